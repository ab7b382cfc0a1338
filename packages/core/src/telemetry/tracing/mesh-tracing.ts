import {
  context as otelContext,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { MeshConfig } from '../../config/mesh-config.js';
import type { CustomTag } from '../../config/schema/telemetry.js';
import type { ConfigSnapshot } from '../../config/snapshot.js';
import type { WorkloadIdentity } from '../../compile/workload.js';
import { applicableTelemetries } from '../config/telemetry-scope.js';
import { resolveTracing, type ResolvedTracing } from '../config/tracing-config.js';
import { canonicalRevision, canonicalService } from '../peer-labels.js';
import { clientMethodAttributes, methodAttributes, setHttpStatus, splitAuthority } from './http-semconv.js';
import {
  DEFAULT_MAX_PATH_TAG_LENGTH,
  egressFallbackName,
  envoyHttpUrl,
  inboundTraceOperation,
  setEnvoyRequestTags,
  setEnvoyResponseTags,
} from './envoy-tags.js';
import { inboundServiceLookup } from '../inbound-services.js';
import type { DestinationService } from '../metrics/metric-event.js';
import type { AccessLogEntry } from '../access-log/entry.js';
import { ClientSpanHandle } from './client-span.js';
import { compileFormatterTags, setFormatterTags } from './formatter-tags.js';
import {
  createPropagation,
  REQUEST_ID_HEADER,
  type HeaderRecord,
  type OutgoingHeaders,
  type Propagation,
  type PropagationFormat,
} from './propagation.js';
import { currentContext, runWithInboundContext, type MeshRequestContext } from './request-context.js';
import {
  clientForced,
  idDecision,
  markClientForced,
  markSampled,
  sampledByRequestId,
} from './request-id-sampling.js';
import { createMeshSampler } from './sampler.js';
import { samplerFromEnv, setupTracerProvider, type OtlpOptions } from './tracer-provider.js';
import {
  createMeshIdGenerator,
  knownUnsampledSpan,
  sampledNonRecordingSpan,
  TraceIdDraw,
  unsampledSpan,
} from './unsampled.js';
import { LazyRequestContext, UnsampledServerSpan } from './unsampled-server-span.js';
import { requestUuid } from './request-uuid.js';
import { sidecarNodeId } from '../metadata-exchange/peer-metadata.js';

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

/** An inbound request as the SERVER span needs it (framework-free). */
export interface ServerSpanRequest {
  readonly method: string;
  /** The request target: path and query. */
  readonly url: string;
  readonly scheme: 'http' | 'https';
  readonly authority: string;
  /** The port the request arrived on. */
  readonly port: number;
  readonly headers: HeaderRecord;
  /** The direct peer's address (`network.peer.address`). */
  readonly peerAddress?: string | null;
  /** `http.route`, when the framework knows it (an attribute; the span name is Envoy's operation). */
  readonly route?: string | null;
}

export interface ServerSpanResult {
  /** 0 when no response was sent. */
  readonly status: number;
  readonly flags?: readonly string[];
  readonly requestBytes?: number;
  readonly responseBytes?: number;
  /** `http.route`, when it became known while handling. */
  readonly route?: string | null;
  readonly error?: unknown;
  /** The finished request as an access-log entry, for `formatter` custom tags (read only when recording). */
  readonly entry?: () => AccessLogEntry;
}

/** A SERVER span in progress, with the context its handler should run in. */
export interface ServerSpan {
  readonly span: Span | null;
  readonly context: MeshRequestContext;
  /** null when none was sent and `proxyHeaders.requestId.disabled` is set. */
  readonly requestId: string | null;
  /**
   * The `x-envoy-decorator-operation` the response carries back to the caller: the inbound
   * route's operation (`inboundTraceOperation`), which Envoy's ingress connection manager
   * sets on every response when tracing is configured, sampled or not, unless the request
   * named the operation itself (envoy source/common/http/conn_manager_impl.cc traceRequest
   * and encodeHeaders). Null then, and when tracing is off for SERVER spans (Istio
   * configures no HCM tracing: `disableSpanReporting`, or `enableTracing: false`).
   */
  readonly responseOperation: string | null;
  /** Run the handler inside this request's context (`runWithInboundContext`). */
  run<T>(fn: () => T): T;
  end(result: ServerSpanResult): void;
}

export interface ClientSpanRequest {
  readonly method: string;
  /** `url.full`. */
  readonly url: string;
  /** Outgoing headers; trace headers and `x-request-id` are written into it. */
  readonly headers: OutgoingHeaders;
  /** `outbound|9080|v1|reviews.default.svc.cluster.local`, when routing chose one. */
  readonly upstreamCluster?: string | null;
  /** Parent context; the current inbound context by default. */
  readonly parent?: MeshRequestContext;
  /**
   * The span name; by default the HTTP method, per the conventions. Envoy names an
   * extension provider's call `async <cluster> egress`.
   */
  readonly name?: string;
}

/** One try of an outbound call, recorded as a span event. */
export interface AttemptInfo {
  /** 1-based. */
  readonly attempt: number;
  readonly upstreamAddress?: string | null;
  readonly status?: number;
  readonly flags?: readonly string[];
  readonly durationMs?: number;
  readonly error?: string | null;
}

export interface ClientSpanResult {
  readonly status: number;
  readonly flags?: readonly string[];
  readonly attempts?: number;
  readonly upstreamAddress?: string | null;
  readonly upstreamCluster?: string | null;
  readonly responseBytes?: number;
  /** Why the call failed without a status (`UF`, `connect ECONNREFUSED`, ...): `error.type`. */
  readonly error?: string | null;
  /** The finished call as an access-log entry, for `formatter` custom tags (read only when recording). */
  readonly entry?: () => AccessLogEntry;
  /** Tags of the caller's own (ext_authz: `ext_authz_status`, `grpc.status_code`). */
  readonly attributes?: Readonly<Record<string, string | number>>;
  /**
   * The matched route's operation (Istio's decorator, `reviews.default.svc.cluster.local:9080/reviews*`),
   * the span name. Without it the name is the default route's `<host>:<port>/*` of
   * `upstreamCluster`, else `egress <authority>`.
   */
  readonly operation?: string | null;
  /**
   * The upstream's non-empty `x-envoy-decorator-operation` answer, the span name over the
   * route's operation (envoy conn_manager_impl.cc encodeHeaders, egress), when the caller
   * took it off the response; else it is read from `entry`'s response headers.
   */
  readonly answeredOperation?: string | null;
}

export interface ClientSpan {
  readonly span: Span | null;
  readonly requestId: string | null;
  /**
   * Routing matched a route whose decorator is `operation`: when tracing is on for CLIENT
   * spans, it names the span and goes to the upstream in `x-envoy-decorator-operation`
   * (written into `headers`), as Envoy's egress connection manager does whether or not the
   * request is sampled (conn_manager_impl.cc traceRequest; the route decorator's
   * `propagate` defaults to true and istiod never sets it).
   */
  decorate(operation: string, headers: OutgoingHeaders): void;
  attempt(info: AttemptInfo): void;
  end(result: ClientSpanResult): void;
}

export interface MeshTracing {
  readonly tracer: Tracer;
  readonly propagation: Propagation;
  readonly config: ResolvedTracing;
  /** True when meshlet set up its own provider. */
  readonly ownsProvider: boolean;
  /** Where meshlet's own provider exports: `provider:<name>`, `otlp`, `console`; empty otherwise. */
  readonly exporters: readonly string[];
  startServerSpan(req: ServerSpanRequest): ServerSpan;
  startClientSpan(req: ClientSpanRequest): ClientSpan;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const NO_FLAGS = '-';

/**
 * The app part of the proxy's service cluster: `app`, then `app.kubernetes.io/name`, then
 * `service.istio.io/canonical-name`, else the workload name (istio pkg/bootstrap/config.go
 * serviceClusterOrDefault with pkg/kube/labels GetApp, the reverse of the canonical-service order).
 */
function serviceClusterApp(w: WorkloadIdentity): string {
  const l = w.labels;
  return l['app'] || l['app.kubernetes.io/name'] || l['service.istio.io/canonical-name'] || w.name;
}

const NO_ID_VERDICT = 0;
const ID_UNSAMPLED = 1;
const ID_SAMPLED = 2;
const ID_CLIENT_FORCED = 3;

/**
 * Envoy's x-request-id sampling decision, in its order (conn_manager_utility.cc
 * mutateTracingRequestHeader): an id an earlier hop marked, then x-client-trace-id, then the
 * random draw on the id; no id at all (generating it is off) leaves the request
 * NotTraceable. A number, not an object: this runs on every request.
 */
function requestIdVerdict(
  useRequestId: boolean,
  requestId: string | null,
  headers: HeaderRecord,
  pct: number,
): number {
  if (!useRequestId) return NO_ID_VERDICT;
  if (
    requestId !== null &&
    clientForced(headers['x-client-trace-id']) &&
    sampledByRequestId(requestId, 0) !== true
  )
    return ID_CLIENT_FORCED;
  const byId = idDecision(requestId, pct);
  return byId === null ? NO_ID_VERDICT : byId ? ID_SAMPLED : ID_UNSAMPLED;
}

/**
 * Whether the request's trace context is B3 without a sampling decision (no `x-b3-sampled`
 * or `x-b3-flags`, or a `b3` header of only trace and span ids): W3C always carries one.
 */
function b3Deferred(headers: HeaderRecord): boolean {
  if (headers['traceparent'] !== undefined) return false;
  const single = headers['b3'];
  if (single !== undefined) {
    const v = typeof single === 'string' ? single : (single[0] ?? '');
    // traceid-spanid: one dash (a flag or a parent id adds another).
    const dash = v.indexOf('-');
    return dash > 0 && v.indexOf('-', dash + 1) < 0;
  }
  return (
    headers['x-b3-traceid'] !== undefined &&
    headers['x-b3-sampled'] === undefined &&
    headers['x-b3-flags'] === undefined
  );
}

/**
 * The sampling decision of B3 headers that carry no trace ids (a `b3` of only the flag,
 * or `x-b3-sampled` alone), read as Envoy's Zipkin extractor reads it
 * (span_context_extractor.cc extractSampled); null without one, the common case.
 */
function b3FlagOnly(headers: HeaderRecord): boolean | null {
  const single = headers['b3'];
  if (single !== undefined) {
    const v = typeof single === 'string' ? single : single[0];
    return v === '1' || v === 'd' ? true : v === '0' ? false : null;
  }
  const sampled = headers['x-b3-sampled'];
  if (sampled === undefined) return null;
  const v = typeof sampled === 'string' ? sampled : sampled[0];
  return v === '1' || v === 'true';
}

/** `parent` with its remote span context marked sampled. */
function sampledParent(parent: Context): Context {
  const sc = trace.getSpanContext(parent);
  return sc === undefined ? parent : trace.setSpanContext(parent, { ...sc, traceFlags: TraceFlags.SAMPLED });
}

/**
 * meshConfig `defaultConfig.tracing.customTags` (ProxyConfig `Tracing.CustomTag`: literal,
 * environment, header), which istiod applies when the Telemetry tracing in force names no
 * custom tags (pilot/pkg/networking/core/tracing.go configureCustomTags).
 */
function proxyConfigCustomTags(
  defaultConfig: Readonly<Record<string, unknown>>,
): Readonly<Record<string, CustomTag>> {
  const tracing = defaultConfig['tracing'];
  if (typeof tracing !== 'object' || tracing === null) return {};
  const raw =
    (tracing as Record<string, unknown>)['customTags'] ?? (tracing as Record<string, unknown>)['custom_tags'];
  if (typeof raw !== 'object' || raw === null) return {};
  const out: Record<string, CustomTag> = {};
  for (const [name, tag] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof tag !== 'object' || tag === null) continue;
    const t = tag as Record<string, Record<string, unknown> | undefined>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const dflt = (o: Record<string, unknown>) => str(o['defaultValue'] ?? o['default_value']);
    if (t['literal'] !== undefined) {
      const value = str(t['literal']['value']);
      if (value !== undefined) out[name] = { literal: { value } };
    } else if (t['environment'] !== undefined) {
      const envName = str(t['environment']['name']);
      const d = dflt(t['environment']);
      if (envName !== undefined)
        out[name] = { environment: { name: envName, ...(d === undefined ? {} : { defaultValue: d }) } };
    } else if (t['header'] !== undefined) {
      const header = str(t['header']['name']);
      const d = dflt(t['header']);
      if (header !== undefined)
        out[name] = { header: { name: header, ...(d === undefined ? {} : { defaultValue: d }) } };
    }
  }
  return Object.freeze(out);
}

/**
 * `istio.mesh_id`: the proxy's MESH_ID node metadata (istio core/tracing.go reads
 * `node.Metadata.MeshID`), which ProxyConfig `meshId` sets and istio-agent defaults to the
 * trust domain.
 */
function proxyMeshId(mesh: Pick<MeshConfig, 'defaultConfig' | 'trustDomain'>): string {
  const id = mesh.defaultConfig['meshId'];
  return typeof id === 'string' && id !== '' ? id : mesh.trustDomain;
}

/** meshConfig `defaultConfig.tracing.maxPathTagLength` (istio tracing.go), else Envoy's 256. */
function maxPathTagLength(defaultConfig: Readonly<Record<string, unknown>>): number {
  const tracing = defaultConfig['tracing'];
  const n =
    typeof tracing === 'object' && tracing !== null
      ? (tracing as Record<string, unknown>)['maxPathTagLength']
      : undefined;
  return typeof n === 'number' && n > 0 ? n : DEFAULT_MAX_PATH_TAG_LENGTH;
}
const flagsOf = (f: readonly string[] | undefined) =>
  f === undefined || f.length === 0 ? NO_FLAGS : f.join(',');

function customTagValue(tag: CustomTag, headers: HeaderRecord, env: NodeJS.ProcessEnv): string | null {
  if (tag.literal !== undefined) return tag.literal.value;
  if (tag.environment !== undefined) return env[tag.environment.name] ?? tag.environment.defaultValue ?? null;
  if (tag.header !== undefined) {
    const v = headers[tag.header.name.toLowerCase()];
    return v === undefined ? (tag.header.defaultValue ?? null) : typeof v === 'string' ? v : v.join(',');
  }
  return null;
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
  /**
   * `drawn`: the trace id is preset and sampling was decided (`forced` when the decision
   * came from x-request-id, which the mesh sampler must then follow).
   */
  const startSpan = (
    name: string,
    kind: SpanKind,
    parent: Context,
    percent: number,
    drawn = false,
    forced = false,
  ): Span => {
    const known = meshSampled && !drawn ? knownUnsampledSpan(parent, percent, ids) : null;
    if (known !== null) return known;
    if (meshSampled && !setup.records) return sampledNonRecordingSpan(parent, ids);
    try {
      if (forced) sampler.rootDecision = true;
      return tracer.startSpan(name, { kind }, parent);
    } finally {
      // A preset the SDK did not consume (suppressed tracing) must not leak to the next trace.
      ids.preset = null;
      sampler.rootDecision = null;
    }
  };
  const propagation = createPropagation(options.propagation ?? undefined);
  // proxyHeaders.requestId.disabled is the connection manager's generate_request_id: false.
  const generateRequestId = options.meshConfig.proxyHeaders?.requestId ?? true;
  const formatterTags = {
    client: compileFormatterTags(config.client.customTags),
    server: compileFormatterTags(config.server.customTags),
  };
  const istioTags: Attributes = Object.freeze({
    'istio.canonical_service': service,
    'istio.canonical_revision': canonicalRevision(w.labels),
    'istio.mesh_id': options.meshId ?? proxyMeshId(options.meshConfig),
    'istio.namespace': w.namespace,
    'istio.cluster_id': options.clusterId ?? 'Kubernetes',
  });
  const nodeId = options.nodeId ?? sidecarNodeId(w, env);
  // Set on every span whatever enableIstioTags says (envoy tracer_impl.cc startSpan: node_id,
  // zone; http_tracer_impl.cc setCommonTags: component).
  const envoyTags: Attributes = Object.freeze({
    node_id: nodeId,
    zone: options.zone ?? '',
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
  // The name per port, made again when the port's service changes (a reload).
  const operations = new Map<number, { readonly service: DestinationService; readonly name: string }>();
  const inboundName = (port: number): string => {
    const service = inboundService(port);
    const hit = operations.get(port);
    if (hit !== undefined && hit.service === service) return hit.name;
    const name = inboundTraceOperation(service, port);
    // Ports are few; bound the cache anyway.
    if (hit !== undefined || operations.size < 64) operations.set(port, { service, name });
    return name;
  };
  const proxyConfigTags = proxyConfigCustomTags(options.meshConfig.defaultConfig);
  const customTags = {
    client: Object.keys(config.client.customTags).length === 0 ? proxyConfigTags : config.client.customTags,
    server: Object.keys(config.server.customTags).length === 0 ? proxyConfigTags : config.server.customTags,
  };
  const addCustomTags = (span: Span, tags: Readonly<Record<string, CustomTag>>, headers: HeaderRecord) => {
    for (const [name, tag] of Object.entries(tags)) {
      const v = customTagValue(tag, headers, env);
      if (v !== null) span.setAttribute(name, v);
    }
  };

  const startServerSpan = (req: ServerSpanRequest): ServerSpan => {
    // The caller's sidecar named the operation (x-envoy-decorator-operation): it names the
    // span, and no operation goes back on the response (conn_manager_impl.cc traceRequest).
    const decorated = req.headers['x-envoy-decorator-operation'];
    const callerOperation = typeof decorated === 'string' && decorated !== '' ? decorated : null;
    const responseOperation =
      config.server.disabled || callerOperation !== null ? null : inboundName(req.port);
    const extracted = propagation.extract(req.headers, generateRequestId);
    let parent = extracted.context;
    let requestId = extracted.requestId;
    let drawn = false;
    let forced = false;
    // A new trace under meshlet's own sampler: decide first (from x-request-id as Envoy
    // does, else from the drawn trace id); a rejected one needs no span, id or context
    // object unless something reads them later.
    if (meshSampled && !config.server.disabled && extracted.context === ROOT_CONTEXT) {
      const draw = new TraceIdDraw();
      const pct = config.server.samplingPercent;
      const verdict = requestIdVerdict(config.server.useRequestId, requestId, req.headers, pct);
      const byId = verdict === NO_ID_VERDICT ? null : verdict !== ID_UNSAMPLED;
      if (byId && requestId !== null)
        requestId = verdict === ID_CLIENT_FORCED ? markClientForced(requestId) : markSampled(requestId);
      // A B3 sampling flag sent without ids decides the new trace over the id (Envoy's
      // Zipkin tracer, zipkin_tracer_impl.cc Driver::startSpan); the id keeps its mark.
      const decided = b3FlagOnly(req.headers) ?? byId;
      if (!(decided ?? draw.sampledAt(pct)))
        return new UnsampledServerSpan(draw, requestId, responseOperation);
      forced = decided === true;
      ids.preset = draw.hex();
      drawn = true;
    } else if (meshSampled && !config.server.disabled) {
      // A request that carries a trace context: its span follows the parent's flag, but
      // Envoy still makes the x-request-id decision and writes its mark, which the
      // application and the next hop see (conn_manager_utility.cc mutateTracingRequestHeader
      // runs whatever the trace headers say).
      const pct = config.server.samplingPercent;
      const verdict = requestIdVerdict(config.server.useRequestId, requestId, req.headers, pct);
      const byId = verdict === NO_ID_VERDICT ? null : verdict !== ID_UNSAMPLED;
      if (byId && requestId !== null)
        requestId = verdict === ID_CLIENT_FORCED ? markClientForced(requestId) : markSampled(requestId);
      // B3 without a sampling flag leaves the decision to that one (Envoy's Zipkin tracer,
      // zipkin/span_context_extractor.cc extractSampled).
      if (b3Deferred(req.headers) && (byId ?? new TraceIdDraw().sampledAt(pct)))
        parent = sampledParent(parent);
    }
    let span: Span | null = null;
    let ctx = parent;
    try {
      if (!config.server.disabled) {
        const route = req.route ?? null;
        // Envoy's operation: the caller's sidecar names it with x-envoy-decorator-operation,
        // else the inbound route's decorator (conn_manager_impl.cc traceRequest).
        const name = callerOperation ?? responseOperation ?? inboundName(req.port);
        span = startSpan(name, SpanKind.SERVER, parent, config.server.samplingPercent, drawn, forced);
        if (span.isRecording()) {
          const q = req.url.indexOf('?');
          const { host, port } = splitAuthority(req.authority, req.port);
          span.setAttributes(methodAttributes(req.method, route).attributes);
          if (config.server.istioTags) span.setAttributes(istioTags);
          span.setAttributes(envoyTags);
          setEnvoyRequestTags(
            span,
            req.method,
            envoyHttpUrl(req.headers, req.scheme, req.authority, req.url, maxPathLength),
            req.url,
            req.authority,
            req.headers,
            req.peerAddress ?? null,
          );
          span.setAttributes({
            'url.path': q < 0 ? req.url : req.url.slice(0, q),
            'url.scheme': req.scheme,
            'server.address': host,
            'server.port': port,
          });
          if (requestId !== null) span.setAttribute('guid:x-request-id', requestId);
          if (q >= 0) span.setAttribute('url.query', req.url.slice(q + 1));
          if (route !== null) span.setAttribute('http.route', route);
          const ua = req.headers['user-agent'];
          if (typeof ua === 'string') span.setAttribute('user_agent.original', ua);
          if (req.peerAddress !== undefined && req.peerAddress !== null) {
            span.setAttribute('network.peer.address', req.peerAddress);
            span.setAttribute('client.address', req.peerAddress);
          }
          addCustomTags(span, customTags.server, req.headers);
        }
        ctx = trace.setSpan(parent, span);
      }
    } catch {
      span = null;
    }
    const context: MeshRequestContext = Object.freeze({ trace: ctx, requestId });
    return {
      span,
      context,
      requestId,
      responseOperation,
      run: (fn) => runWithInboundContext(context, fn),
      end(result) {
        if (span === null) return;
        try {
          if (span.isRecording()) {
            if (result.route !== undefined && result.route !== null && req.route == null)
              span.setAttribute('http.route', result.route);
            span.setAttribute('response_flags', flagsOf(result.flags));
            const e = result.entry === undefined ? null : result.entry();
            const grpcError = setEnvoyResponseTags(span, e, result.requestBytes, result.responseBytes, null);
            setHttpStatus(
              span,
              'server',
              result.status,
              result.error instanceof Error ? result.error.name : null,
              grpcError,
            );
            if (e !== null) setFormatterTags(span, formatterTags.server, () => e);
          }
          span.end();
        } catch {
          // Telemetry never throws into the application.
        }
      },
    };
  };

  const startClientSpan = (req: ClientSpanRequest): ClientSpan => {
    const parent = req.parent ?? currentContext();
    const given = req.headers[REQUEST_ID_HEADER];
    const sent = typeof given === 'string' ? given : given?.[0];
    let requestId =
      sent !== undefined && sent !== ''
        ? sent
        : (parent?.requestId ?? (generateRequestId ? requestUuid() : null));
    let drawn = false;
    let forced = false;
    // Under meshlet's own sampler, a call in an unsampled inbound trace of meshlet's own,
    // or one starting a trace the sampler rejects, needs no OpenTelemetry context: its
    // headers are written directly.
    if (meshSampled && !config.client.disabled && config.client.propagate) {
      let traceId: string | null = null;
      let parentSpanId: string | null = null;
      if (parent instanceof LazyRequestContext) {
        traceId = parent.traceId;
        if (propagation.b3multi) parentSpanId = parent.spanId;
      } else if (parent === undefined && otelContext.active() === ROOT_CONTEXT) {
        const draw = new TraceIdDraw();
        const pct = config.client.samplingPercent;
        const byId = config.client.useRequestId ? idDecision(requestId, pct) : null;
        if (byId ?? draw.sampledAt(pct)) {
          if (byId === true && requestId !== null) {
            requestId = markSampled(requestId);
            // The mark travels on the request, as Envoy rewrites x-request-id.
            if (sent !== undefined && sent !== '') req.headers[REQUEST_ID_HEADER] = requestId;
            forced = true;
          }
          ids.preset = draw.hex();
          drawn = true;
        } else traceId = draw.hex();
      }
      if (traceId !== null) {
        const unsampled = unsampledSpan(traceId);
        propagation.injectUnsampled(
          traceId,
          unsampled.spanContext().spanId,
          requestId,
          req.headers,
          parentSpanId,
        );
        return new ClientSpanHandle(unsampled, requestId);
      }
    }
    const parentCtx = parent?.trace ?? otelContext.active();
    let span: Span | null = null;
    let ctx = parentCtx;
    /** The name for a route without decorator, when the span records and is not named by the caller. */
    let undecorated: string | null = null;
    try {
      if (!config.client.disabled) {
        const { name, attributes } = clientMethodAttributes(req.method);
        span = startSpan(
          req.name ?? name,
          SpanKind.CLIENT,
          parentCtx,
          config.client.samplingPercent,
          drawn,
          forced,
        );
        if (span.isRecording()) {
          span.setAttributes(attributes);
          if (config.client.istioTags) span.setAttributes(istioTags);
          span.setAttributes(envoyTags);
          span.setAttribute('url.full', req.url);
          if (requestId !== null) span.setAttribute('guid:x-request-id', requestId);
          const hostHeader = req.headers['host'];
          const given = typeof hostHeader === 'string' ? hostHeader : undefined;
          try {
            const u = new URL(req.url);
            span.setAttribute('server.address', u.hostname.replace(/^\[(.*)\]$/, '$1'));
            span.setAttribute(
              'server.port',
              u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port),
            );
            const a = given ?? u.host;
            const path = u.pathname + u.search;
            setEnvoyRequestTags(
              span,
              req.method,
              envoyHttpUrl(req.headers, u.protocol.slice(0, -1), a, path, maxPathLength),
              path,
              a,
              req.headers,
              localIp,
            );
            if (req.name === undefined) undecorated = egressFallbackName(a, zipkinNames);
          } catch {
            // A URL that does not parse keeps url.full only.
            if (req.name === undefined && given !== undefined)
              undecorated = egressFallbackName(given, zipkinNames);
          }
          if (req.upstreamCluster !== undefined && req.upstreamCluster !== null) {
            span.setAttribute('upstream_cluster', req.upstreamCluster);
            span.setAttribute('upstream_cluster.name', req.upstreamCluster);
          }
          addCustomTags(span, customTags.client, req.headers);
        }
        ctx = trace.setSpan(parentCtx, span);
      }
    } catch {
      span = null;
    }
    if (config.client.propagate) {
      // The CLIENT span's parent, for B3's x-b3-parentspanid (b3-multi.ts).
      const psc = span === null || !propagation.b3multi ? undefined : trace.getSpanContext(parentCtx);
      propagation.inject(
        ctx,
        requestId,
        req.headers,
        psc !== undefined && isSpanContextValid(psc) ? psc.spanId : null,
      );
    } else if (requestId !== null && req.headers[REQUEST_ID_HEADER] === undefined)
      req.headers[REQUEST_ID_HEADER] = requestId;
    return new ClientSpanHandle(span, requestId, formatterTags.client, undecorated);
  };

  return Object.freeze({
    tracer,
    propagation,
    config,
    ownsProvider: setup.owned,
    exporters: setup.exporters,
    startServerSpan,
    startClientSpan,
    forceFlush: () => setup.forceFlush(),
    shutdown: () => setup.shutdown(),
  });
}
