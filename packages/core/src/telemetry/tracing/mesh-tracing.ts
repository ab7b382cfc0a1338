// The tracing facade: `createMeshTracing` builds one workload's tracing (provider,
// sampler, propagation, the per-workload state) and composes the SERVER and CLIENT span
// starts (`server-span.ts`, `client-span-start.ts`).
import { splitLocality } from '../../compile/locality.js';
import type { Attributes, Tracer, TracerProvider } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { MeshConfig } from '../../config/mesh-config.js';
import type { ConfigSnapshot } from '../../config/snapshot.js';
import type { WorkloadIdentity } from '../../compile/workload.js';
import { applicableTelemetries } from '../config/telemetry-scope.js';
import { resolveTracing, type ResolvedTracing } from '../config/tracing-config.js';
import { inboundServiceLookup } from '../inbound-services.js';
import { sidecarNodeId } from '../metadata-exchange/peer-metadata.js';
import type { DestinationService } from '../metrics/metric-event.js';
import { canonicalRevision, canonicalService } from '../peer-labels.js';
import type { ClientSpan } from './client-span.js';
import { createStartClientSpan, type ClientSpanRequest } from './client-span-start.js';
import { createAddCustomTags, spanCustomTags } from './custom-tags.js';
import { compileFormatterTags } from './formatter-tags.js';
import { createInboundName } from './inbound-operation.js';
import { createPropagation, type Propagation, type PropagationFormat } from './propagation.js';
import { maxPathTagLength } from './proxy-config-tracing.js';
import { proxyMeshId, serviceClusterApp } from './proxy-identity.js';
import { createMeshSampler } from './sampler.js';
import { createStartServerSpan, type ServerSpan, type ServerSpanRequest } from './server-span.js';
import { createStartSpan } from './span-start.js';
import { samplerFromEnv, setupTracerProvider, type OtlpOptions } from './tracer-provider.js';
import type { TracingState } from './tracing-state.js';
import { createMeshIdGenerator } from './unsampled.js';

export type { AttemptInfo, ClientSpan, ClientSpanResult } from './client-span.js';
export type { ClientSpanRequest } from './client-span-start.js';
export type { ServerSpan, ServerSpanRequest, ServerSpanResult } from './server-span.js';

export interface MeshTracingOptions {
  readonly workload: WorkloadIdentity;
  readonly meshConfig: Pick<
    MeshConfig,
    'trustDomain' | 'rootNamespace' | 'tracingSampling' | 'defaultConfig'
  > &
    Partial<Pick<MeshConfig, 'defaultProviders' | 'extensionProviders' | 'proxyHeaders'>>;
  /** Telemetry `tracing` is read from here for the workload. */
  readonly snapshot?: Pick<ConfigSnapshot, 'resources' | 'meshConfig'>;
  /** Already-resolved tracing config; wins over `snapshot`. */
  readonly tracing?: ResolvedTracing;
  /** The application's provider; else the global one if registered; else meshlet's own. */
  readonly tracerProvider?: TracerProvider;
  /** Processors for meshlet's own provider (ignored with the application's). */
  readonly spanProcessors?: readonly SpanProcessor[];
  readonly otlp?: OtlpOptions | false;
  /** Default `OTEL_PROPAGATORS`, else W3C + B3 multi. */
  readonly propagation?: readonly PropagationFormat[];
  /** `istio.cluster_id`; default `Kubernetes`. */
  readonly clusterId?: string;
  /** `istio.mesh_id`; default the trust domain, as Istio's. */
  readonly meshId?: string;
  /** `node_id`; default Istio's form `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`. */
  readonly nodeId?: string;
  /** `zone`: the proxy's locality zone (Envoy's local_info zoneName); default empty, as Envoy's without one. */
  readonly zone?: string;
  /**
   * The inbound service of a local port (`MeshTelemetry.inboundService`), which names the
   * SERVER span: istiod's inbound route operation `<service host>:<port>/*`
   * (`inboundTraceOperation`). Read per request, so it may follow reloads. By default the
   * Service named after the workload's canonical service.
   */
  readonly inboundService?: (port: number) => DestinationService;
  readonly env?: NodeJS.ProcessEnv;
}

export interface MeshTracing {
  readonly tracer: Tracer;
  readonly propagation: Propagation;
  readonly config: ResolvedTracing;
  /** True when meshlet set up its own provider. */
  readonly ownsProvider: boolean;
  /** Where meshlet's own provider exports: `provider:<name>`, `otlp`, `console`; empty otherwise. */
  readonly exporters: readonly string[];
  /** The proxy's node id (spans' `node_id`; CEL's `xds.node.id`). */
  readonly nodeId: string;
  /** The mesh id (spans' `istio.mesh_id`; the node metadata's MESH_ID). */
  readonly meshId: string;
  startServerSpan(req: ServerSpanRequest): ServerSpan;
  startClientSpan(req: ClientSpanRequest): ClientSpan;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry tracing for one workload: W3C and B3 propagation plus `x-request-id`,
 * the mesh's sampling (Telemetry `randomSamplingPercentage` > meshConfig
 * `defaultConfig.tracing.sampling` > 1 %, a parent's decision winning), one SERVER span
 * per inbound request and one CLIENT span per outbound call, named and tagged as a
 * sidecar's connection manager names and tags its ingress and egress spans (the route
 * decorator's operation; `envoy-tags.ts`), with OTel HTTP semconv attributes as well.
 *
 * Retries are span events (`meshlet.attempt`) on the one CLIENT span, not child spans:
 * istiod turns on Envoy's per-attempt upstream spans for gateways only (tracing.go
 * `startChildSpan := proxy.Type == model.Router`), so a sidecar's trace has one egress span
 * per call (client → server per hop) and the next hop's SERVER span has one parent
 * whichever attempt reached it; events cost nothing when the span is not sampled.
 *
 * Nothing here throws into the application; when a span is not sampled no attribute
 * is built (`isRecording()` is checked first).
 */
export function createMeshTracing(options: MeshTracingOptions): MeshTracing {
  const env = options.env ?? process.env;
  const config =
    options.tracing ??
    resolveTracing(
      options.snapshot === undefined ? [] : applicableTelemetries(options.snapshot, options.workload),
      options.meshConfig,
      env,
    );
  const w = options.workload;
  const service = canonicalService(w.labels, w.name);
  const ids = createMeshIdGenerator();
  const sampler = createMeshSampler({
    client: config.client.samplingPercent,
    server: config.server.samplingPercent,
  });
  const setup = setupTracerProvider({
    ...(options.tracerProvider === undefined ? {} : { tracerProvider: options.tracerProvider }),
    sampler,
    // Istio names spans' service after the proxy's service cluster, `<app>.<namespace>`.
    serviceName: `${serviceClusterApp(w)}.${w.namespace}`,
    idGenerator: ids,
    ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
    ...(options.otlp === undefined ? {} : { otlp: options.otlp }),
    providerExports: { client: config.client.export, server: config.server.export },
    env,
  });
  const tracer = setup.provider.getTracer('@meshlet/core');
  // With meshlet's own provider and the mesh sampler, meshlet decides sampling first
  // (same rule as the SDK's) and skips the SDK for a span that would record nothing:
  // at Istio's 1 % default, 99 of 100 requests never build an SDK span.
  const meshSampled = setup.owned && samplerFromEnv(env) === null;
  const startSpan = createStartSpan(meshSampled, ids, setup, sampler, tracer);
  const propagation = createPropagation(options.propagation ?? undefined);
  // proxyHeaders.requestId.disabled is the connection manager's generate_request_id: false.
  const generateRequestId = options.meshConfig.proxyHeaders?.requestId ?? true;
  const formatterTags = {
    client: compileFormatterTags(config.client.customTags),
    server: compileFormatterTags(config.server.customTags),
  };
  const meshId = options.meshId ?? proxyMeshId(options.meshConfig);
  const istioTags: Attributes = Object.freeze({
    'istio.canonical_service': service,
    'istio.canonical_revision': canonicalRevision(w.labels),
    'istio.mesh_id': meshId,
    'istio.namespace': w.namespace,
    'istio.cluster_id': options.clusterId ?? 'Kubernetes',
  });
  const nodeId = options.nodeId ?? sidecarNodeId(w, env);
  // Set on every span whatever enableIstioTags says (envoy tracer_impl.cc startSpan: node_id,
  // zone; http_tracer_impl.cc setCommonTags: component).
  const envoyTags: Attributes = Object.freeze({
    node_id: nodeId,
    // Istio's bootstrap gives the node its locality; Envoy's zone name is its zone
    // (local_info_impl.cc, without --service-zone).
    zone: options.zone ?? (w.locality === undefined ? '' : splitLocality(w.locality).zone),
    component: 'proxy',
  });
  // The application's address, the egress listener's downstream peer (`peer.address` of a
  // CLIENT span): the pod IP in the node id.
  const localIp = nodeId.split('~')[1] ?? null;
  const maxPathLength = maxPathTagLength(options.meshConfig.defaultConfig);
  // The outbound spans go to a zipkin provider: name them as Envoy's Zipkin tracer does.
  const zipkinNames = config.client.export?.protocol === 'zipkin';
  const inboundService =
    options.inboundService ?? inboundServiceLookup({ workload: w, platform: [], service: null });
  const inboundName = createInboundName(inboundService);
  const customTags = spanCustomTags(config, options.meshConfig.defaultConfig);
  const addCustomTags = createAddCustomTags(env);
  const state: TracingState = {
    config,
    meshSampled,
    ids,
    startSpan,
    propagation,
    generateRequestId,
    formatterTags,
    istioTags,
    envoyTags,
    localIp,
    maxPathLength,
    zipkinNames,
    inboundName,
    customTags,
    addCustomTags,
  };
  const startServerSpan = createStartServerSpan(state);
  const startClientSpan = createStartClientSpan(state);

  return Object.freeze({
    tracer,
    propagation,
    config,
    ownsProvider: setup.owned,
    exporters: setup.exporters,
    nodeId,
    meshId,
    startServerSpan,
    startClientSpan,
    forceFlush: () => setup.forceFlush(),
    shutdown: () => setup.shutdown(),
  });
}
