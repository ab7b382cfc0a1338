// The SERVER span of one inbound request: the sampling decision (x-request-id, B3 flags,
// the caller's), Envoy's ingress operation name and tags, the context the handler runs in,
// and the tags set once the response is done.
import { ROOT_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import type { AccessLogEntry } from '../access-log/entry.js';
import { b3Deferred, b3FlagOnly, sampledParent } from './b3-sampling.js';
import { setDryRunTags } from './dry-run-tags.js';
import { envoyHttpUrl, flagsOf, setEnvoyRequestTags, setEnvoyResponseTags } from './envoy-tags.js';
import { setFormatterTags } from './formatter-tags.js';
import { methodAttributes, setHttpStatus, splitAuthority } from './http-semconv.js';
import type { HeaderRecord } from './propagation.js';
import { runWithInboundContext, type MeshRequestContext } from './request-context.js';
import {
  ID_CLIENT_FORCED,
  ID_UNSAMPLED,
  markClientForced,
  markSampled,
  NO_ID_VERDICT,
  requestIdVerdict,
} from './request-id-sampling.js';
import type { TracingState } from './tracing-state.js';
import { TraceIdDraw } from './unsampled.js';
import { UnsampledServerSpan } from './unsampled-server-span.js';

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

/** The `startServerSpan` of one `MeshTracing`. */
export function createStartServerSpan(state: TracingState): (req: ServerSpanRequest) => ServerSpan {
  const {
    config,
    meshSampled,
    ids,
    startSpan,
    propagation,
    generateRequestId,
    formatterTags,
    istioTags,
    envoyTags,
    maxPathLength,
    inboundName,
    customTags,
    addCustomTags,
  } = state;
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
            if (config.server.istioTags) setDryRunTags(span, e);
            if (e !== null) setFormatterTags(span, formatterTags.server, () => e);
          }
          span.end();
        } catch {
          // Telemetry never throws into the application.
        }
      },
    };
  };
  return startServerSpan;
}
