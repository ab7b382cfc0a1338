import { trace, type Context, type Span } from '@opentelemetry/api';
import { runWithInboundContext, type MeshRequestContext } from './request-context.js';
import { newSpanId, unsampledRootContext, type TraceIdDraw } from './unsampled.js';

/**
 * The inbound context of a request that starts a trace the sampler rejected: its trace
 * context (new trace id, new span id, not sampled) is built the first time something
 * reads it, an outbound `mesh.fetch` propagating it or the application's own spans.
 * Handlers that call nothing never pay for ids, span or context objects.
 */
export class LazyRequestContext implements MeshRequestContext {
  readonly requestId: string | null;
  readonly #draw: TraceIdDraw;
  #trace: Context | null = null;
  #traceId: string | null = null;
  #spanId: string | null = null;

  constructor(draw: TraceIdDraw, requestId: string | null) {
    this.#draw = draw;
    this.requestId = requestId;
  }

  get trace(): Context {
    return (this.#trace ??= unsampledRootContext(this.#draw, this.traceId, this.spanId));
  }

  /** The id of the request's (unsampled) SERVER span, the parent of its outbound calls' spans. */
  get spanId(): string {
    return (this.#spanId ??= newSpanId());
  }

  /** The trace id, without building the context: what an unsampled child span needs. */
  get traceId(): string {
    return (this.#traceId ??= this.#draw.hex());
  }
}

/**
 * The SERVER span of such a request: non-recording (Envoy reports nothing for an
 * unsampled request either), so `end` has nothing to do. Same shape as the spans
 * `createMeshTracing` makes; `span` is the non-recording span of the lazy context.
 */
export class UnsampledServerSpan {
  readonly context: MeshRequestContext;
  readonly requestId: string | null;
  /** `ServerSpan.responseOperation`: Envoy answers it whether or not the request is sampled. */
  readonly responseOperation: string | null;

  constructor(draw: TraceIdDraw, requestId: string | null, responseOperation: string | null) {
    this.context = new LazyRequestContext(draw, requestId);
    this.requestId = requestId;
    this.responseOperation = responseOperation;
  }

  get span(): Span | null {
    return trace.getSpan(this.context.trace) ?? null;
  }

  run<T>(fn: () => T): T {
    return runWithInboundContext(this.context, fn);
  }

  end(): void {
    // Not recording: nothing to report.
  }
}
