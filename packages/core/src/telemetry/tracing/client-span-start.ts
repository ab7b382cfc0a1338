// Starting the CLIENT span of one outbound call: the sampling decision of a call that starts
// a trace, Envoy's egress tags, and the trace headers and x-request-id written on the request.
import {
  context as otelContext,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Span,
} from '@opentelemetry/api';
import { ClientSpanHandle, type ClientSpan } from './client-span.js';
import { egressFallbackName, envoyHttpUrl, setEnvoyRequestTags } from './envoy-tags.js';
import { clientMethodAttributes } from './http-semconv.js';
import { REQUEST_ID_HEADER, type OutgoingHeaders } from './propagation.js';
import { currentContext, type MeshRequestContext } from './request-context.js';
import { idDecision, markSampled } from './request-id-sampling.js';
import { requestUuid } from './request-uuid.js';
import type { TracingState } from './tracing-state.js';
import { TraceIdDraw, unsampledSpan } from './unsampled.js';
import { LazyRequestContext } from './unsampled-server-span.js';

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

/** The `startClientSpan` of one `MeshTracing`. */
export function createStartClientSpan(state: TracingState): (req: ClientSpanRequest) => ClientSpan {
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
    localIp,
    maxPathLength,
    zipkinNames,
    customTags,
    addCustomTags,
  } = state;
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
  return startClientSpan;
}
