import {
  context as otelContext,
  ROOT_CONTEXT,
  SpanKind,
  trace,
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
import { resolveTracing, type ResolvedTracing, type TracingSpec } from '../config/tracing-config.js';
import { canonicalRevision, canonicalService } from '../peer-labels.js';
import { clientMethodAttributes, methodAttributes, setHttpStatus, splitAuthority } from './http-semconv.js';
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
  /** `http.route`, when the framework knows it. */
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
}

export interface ClientSpan {
  readonly span: Span | null;
  readonly requestId: string | null;
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
 * per inbound request and one CLIENT span per outbound call.
 *
 * Retries are span events (`meshlet.attempt`) on the one CLIENT span, not child spans:
 * Envoy's router reports one span per upstream request with `retry.count`, so the trace
 * keeps the shape a sidecar gives (client → server per hop) and the next hop's SERVER
 * span has one parent whichever attempt reached it; events cost nothing when the span
 * is not sampled.
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
    serviceName: `${service}.${w.namespace}`,
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
    'istio.mesh_id': options.meshId ?? options.meshConfig.trustDomain,
    'istio.namespace': w.namespace,
    'istio.cluster_id': options.clusterId ?? 'Kubernetes',
    node_id: options.nodeId ?? sidecarNodeId(w, env),
    component: 'proxy',
  });
  const addCustomTags = (span: Span, spec: TracingSpec, headers: HeaderRecord) => {
    for (const [name, tag] of Object.entries(spec.customTags)) {
      const v = customTagValue(tag, headers, env);
      if (v !== null) span.setAttribute(name, v);
    }
  };

  const startServerSpan = (req: ServerSpanRequest): ServerSpan => {
    const extracted = propagation.extract(req.headers, generateRequestId);
    let requestId = extracted.requestId;
    let drawn = false;
    let forced = false;
    // A new trace under meshlet's own sampler: decide first (from x-request-id as Envoy
    // does, else from the drawn trace id); a rejected one needs no span, id or context
    // object unless something reads them later.
    if (meshSampled && !config.server.disabled && extracted.context === ROOT_CONTEXT) {
      const draw = new TraceIdDraw();
      const pct = config.server.samplingPercent;
      // Envoy's order (conn_manager_utility.cc mutateTracingRequestHeader): an id an earlier
      // hop marked, then x-client-trace-id, then the random draw on the id. No id at all
      // (generating it is off) leaves the request NotTraceable there.
      const byClient =
        config.server.useRequestId &&
        requestId !== null &&
        clientForced(req.headers['x-client-trace-id']) &&
        sampledByRequestId(requestId, 0) !== true;
      const byId = byClient ? true : config.server.useRequestId ? idDecision(requestId, pct) : null;
      if (!(byId ?? draw.sampledAt(pct))) return new UnsampledServerSpan(draw, requestId);
      if (byId === true && requestId !== null) {
        requestId = byClient ? markClientForced(requestId) : markSampled(requestId);
        forced = true;
      }
      ids.preset = draw.hex();
      drawn = true;
    }
    let span: Span | null = null;
    let ctx = extracted.context;
    try {
      if (!config.server.disabled) {
        const route = req.route ?? null;
        const { name, attributes } = methodAttributes(req.method, route);
        span = startSpan(
          name,
          SpanKind.SERVER,
          extracted.context,
          config.server.samplingPercent,
          drawn,
          forced,
        );
        if (span.isRecording()) {
          const q = req.url.indexOf('?');
          const { host, port } = splitAuthority(req.authority, req.port);
          span.setAttributes(attributes);
          if (config.server.istioTags) span.setAttributes(istioTags);
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
          addCustomTags(span, config.server, req.headers);
        }
        ctx = trace.setSpan(extracted.context, span);
      }
    } catch {
      span = null;
    }
    const context: MeshRequestContext = Object.freeze({ trace: ctx, requestId });
    const method = req.method;
    return {
      span,
      context,
      requestId,
      run: (fn) => runWithInboundContext(context, fn),
      end(result) {
        if (span === null) return;
        try {
          if (span.isRecording()) {
            if (result.route !== undefined && result.route !== null && req.route == null) {
              span.updateName(methodAttributes(method, result.route).name);
              span.setAttribute('http.route', result.route);
            }
            span.setAttribute('response_flags', flagsOf(result.flags));
            if (result.requestBytes !== undefined) span.setAttribute('request_size', result.requestBytes);
            if (result.responseBytes !== undefined) span.setAttribute('response_size', result.responseBytes);
            setHttpStatus(
              span,
              'server',
              result.status,
              result.error instanceof Error ? result.error.name : null,
            );
            if (result.entry !== undefined) setFormatterTags(span, formatterTags.server, result.entry);
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
      if (parent instanceof LazyRequestContext) traceId = parent.traceId;
      else if (parent === undefined && otelContext.active() === ROOT_CONTEXT) {
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
        propagation.injectUnsampled(traceId, unsampled.spanContext().spanId, requestId, req.headers);
        return new ClientSpanHandle(unsampled, requestId);
      }
    }
    const parentCtx = parent?.trace ?? otelContext.active();
    let span: Span | null = null;
    let ctx = parentCtx;
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
          span.setAttribute('url.full', req.url);
          if (requestId !== null) span.setAttribute('guid:x-request-id', requestId);
          try {
            const u = new URL(req.url);
            span.setAttribute('server.address', u.hostname.replace(/^\[(.*)\]$/, '$1'));
            span.setAttribute(
              'server.port',
              u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port),
            );
          } catch {
            // A URL that does not parse keeps url.full only.
          }
          if (req.upstreamCluster !== undefined && req.upstreamCluster !== null) {
            span.setAttribute('upstream_cluster', req.upstreamCluster);
            span.setAttribute('upstream_cluster.name', req.upstreamCluster);
          }
          addCustomTags(span, config.client, req.headers);
        }
        ctx = trace.setSpan(parentCtx, span);
      }
    } catch {
      span = null;
    }
    if (config.client.propagate) propagation.inject(ctx, requestId, req.headers);
    else if (requestId !== null && req.headers[REQUEST_ID_HEADER] === undefined)
      req.headers[REQUEST_ID_HEADER] = requestId;
    return new ClientSpanHandle(span, requestId, formatterTags.client);
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
