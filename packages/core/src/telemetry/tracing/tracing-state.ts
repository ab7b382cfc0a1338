// What the SERVER and CLIENT span starts of one `MeshTracing` read: built once by
// `createMeshTracing` from its options, then read on every request.
import type { Attributes } from '@opentelemetry/api';
import type { ResolvedTracing } from '../config/tracing-config.js';
import type { AddCustomTags, SpanCustomTags } from './custom-tags.js';
import type { FormatterTags } from './formatter-tags.js';
import type { Propagation } from './propagation.js';
import type { StartSpan } from './span-start.js';
import type { MeshIdGenerator } from './unsampled.js';

export interface TracingState {
  readonly config: ResolvedTracing;
  /** meshlet's own provider with the mesh sampler: meshlet decides sampling before the SDK. */
  readonly meshSampled: boolean;
  /** The id generator of meshlet's own provider (`preset` hands it a drawn trace id). */
  readonly ids: MeshIdGenerator;
  readonly startSpan: StartSpan;
  readonly propagation: Propagation;
  /** The connection manager's generate_request_id (`proxyHeaders.requestId`). */
  readonly generateRequestId: boolean;
  readonly formatterTags: { readonly client: FormatterTags; readonly server: FormatterTags };
  /** `istio.*`, set when `enableIstioTags` (the default). */
  readonly istioTags: Attributes;
  /** Envoy's `node_id`, `zone`, `component`, set on every span. */
  readonly envoyTags: Attributes;
  /** The application's address, a CLIENT span's `peer.address`: the pod IP in the node id. */
  readonly localIp: string | null;
  /** Envoy's `http.url` length limit. */
  readonly maxPathLength: number;
  /** The outbound spans go to a zipkin provider: named as Envoy's Zipkin tracer names them. */
  readonly zipkinNames: boolean;
  /** The SERVER span's name for a local port: the inbound route's operation. */
  readonly inboundName: (port: number) => string;
  readonly customTags: SpanCustomTags;
  readonly addCustomTags: AddCustomTags;
}
