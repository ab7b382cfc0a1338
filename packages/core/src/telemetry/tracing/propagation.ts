import {
  ROOT_CONTEXT,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { isTracingSuppressed, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { injectB3Multi } from './b3-multi.js';
import { requestUuid } from './request-uuid.js';

/** Request headers as meshlet passes them: lower-case keys, repeated headers as arrays. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Trace header formats meshlet injects (OTEL_PROPAGATORS names). */
export type PropagationFormat = 'tracecontext' | 'b3' | 'b3multi' | 'baggage';

/** Istio always forwards these (istio.io distributed-tracing overview). */
export const REQUEST_ID_HEADER = 'x-request-id';

const getter: TextMapGetter<HeaderRecord> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key.toLowerCase()];
    return v === undefined ? undefined : typeof v === 'string' ? v : [...v];
  },
};

/** Outgoing headers: lower-case names; meshlet only ever writes strings into them. */
export type OutgoingHeaders = Record<string, string | readonly string[]>;

const setter: TextMapSetter<OutgoingHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const W3C = new W3CTraceContextPropagator();
const B3_ANY = new B3Propagator();
/** The formats injected through OpenTelemetry's propagators (B3 multi-header: b3-multi.ts). */
const PROPAGATORS: Readonly<Record<Exclude<PropagationFormat, 'b3multi'>, TextMapPropagator>> = {
  tracecontext: W3C,
  b3: new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }),
  baggage: new W3CBaggagePropagator(),
};

/** What came in on a request: the remote parent (if any) and the request id. */
export interface ExtractedContext {
  /** ROOT_CONTEXT with the remote span context set, when one was sent. */
  readonly context: Context;
  /**
   * `x-request-id` as sent, or a new UUID (Envoy's connection manager generates one when
   * none came), or null when none came and generating is off (`generate_request_id: false`).
   */
  readonly requestId: string | null;
  /** Whether `x-request-id` was generated here. */
  readonly generatedRequestId: boolean;
}

export interface Propagation {
  readonly formats: readonly PropagationFormat[];
  /**
   * Read the parent from W3C `traceparent`/`tracestate`, else from B3 (single `b3` or
   * multi `x-b3-*`), and `x-request-id`. Never throws.
   */
  extract(headers: HeaderRecord, generateRequestId?: boolean): ExtractedContext;
  /**
   * Write the trace headers of `context` (and `x-request-id`) into `headers`; B3 multi
   * names `parentSpanId` in `x-b3-parentspanid` (b3-multi.ts). Never throws.
   */
  inject(
    context: Context,
    requestId: string | null,
    headers: OutgoingHeaders,
    parentSpanId?: string | null,
  ): void;
  /**
   * What `inject` writes for a span that is not sampled and has no trace state or baggage
   * (a new trace, or the child of meshlet's own unsampled inbound trace, `parentSpanId`),
   * written directly rather than through the OpenTelemetry propagators.
   */
  injectUnsampled(
    traceId: string,
    spanId: string,
    requestId: string | null,
    headers: OutgoingHeaders,
    parentSpanId?: string | null,
  ): void;
  /** Whether B3 multi-header is injected, the one format that carries the parent span id. */
  readonly b3multi: boolean;
}

const KNOWN = new Set<string>(['tracecontext', 'b3', 'b3multi', 'baggage']);

/**
 * Formats from `OTEL_PROPAGATORS` (`none` = inject nothing); unknown names are ignored.
 * Default: W3C trace context and B3 multi-header, the two forms Istio's sidecars and
 * Bookinfo's apps forward.
 */
export function propagationFormats(env: NodeJS.ProcessEnv = process.env): readonly PropagationFormat[] {
  const raw = env['OTEL_PROPAGATORS'];
  if (raw === undefined || raw.trim() === '') return Object.freeze(['tracecontext', 'b3multi'] as const);
  const names = raw.split(',').map((s) => s.trim().toLowerCase());
  if (names.includes('none')) return Object.freeze([]);
  return Object.freeze(names.filter((n): n is PropagationFormat => KNOWN.has(n)));
}

const headerString = (v: string | readonly string[] | undefined): string | null =>
  v === undefined ? null : typeof v === 'string' ? v : (v[0] ?? null);

export function createPropagation(formats: readonly PropagationFormat[] = propagationFormats()): Propagation {
  // B3 multi-header is written as Envoy's Zipkin tracer writes it (b3-multi.ts), not by
  // the OpenTelemetry propagator.
  const injectors = formats
    .filter((f): f is Exclude<PropagationFormat, 'b3multi'> => f !== 'b3multi')
    .map((f) => PROPAGATORS[f]);
  const b3multi = formats.includes('b3multi');
  const withBaggage = formats.includes('baggage');
  return Object.freeze({
    formats,
    b3multi,
    extract(headers: HeaderRecord, generateRequestId = true): ExtractedContext {
      let context: Context = ROOT_CONTEXT;
      try {
        // Most requests carry no trace headers: skip the propagators, which extract
        // nothing without `traceparent` (W3C), `b3` (single) or `x-b3-traceid` (multi).
        if (
          headers['traceparent'] !== undefined ||
          headers['b3'] !== undefined ||
          headers['x-b3-traceid'] !== undefined
        ) {
          context = W3C.extract(ROOT_CONTEXT, headers, getter);
          if (trace.getSpanContext(context) === undefined)
            context = B3_ANY.extract(ROOT_CONTEXT, headers, getter);
        }
        if (withBaggage && headers['baggage'] !== undefined)
          context = PROPAGATORS.baggage.extract(context, headers, getter);
      } catch {
        context = ROOT_CONTEXT;
      }
      const sent = headerString(headers[REQUEST_ID_HEADER]);
      return sent !== null && sent !== ''
        ? { context, requestId: sent, generatedRequestId: false }
        : generateRequestId
          ? { context, requestId: requestUuid(), generatedRequestId: true }
          : { context, requestId: null, generatedRequestId: false };
    },
    inject(
      context: Context,
      requestId: string | null,
      headers: OutgoingHeaders,
      parentSpanId: string | null = null,
    ): void {
      try {
        for (const p of injectors) p.inject(context, headers, setter);
        if (b3multi && !isTracingSuppressed(context)) {
          const sc = trace.getSpanContext(context);
          if (sc !== undefined) injectB3Multi(sc, parentSpanId, headers);
        }
        if (requestId !== null && headers[REQUEST_ID_HEADER] === undefined)
          headers[REQUEST_ID_HEADER] = requestId;
      } catch {
        // Telemetry never throws into the application.
      }
    },
    injectUnsampled(
      traceId: string,
      spanId: string,
      requestId: string | null,
      headers: OutgoingHeaders,
      parentSpanId: string | null = null,
    ): void {
      // The formats of @opentelemetry/core W3CTraceContextPropagator,
      // @opentelemetry/propagator-b3 B3SinglePropagator and injectB3Multi for flags 00.
      for (const f of formats) {
        if (f === 'tracecontext') headers['traceparent'] = `00-${traceId}-${spanId}-00`;
        else if (f === 'b3') headers['b3'] = `${traceId}-${spanId}-0`;
        else if (f === 'b3multi') {
          headers['x-b3-traceid'] = traceId;
          headers['x-b3-spanid'] = spanId;
          if (parentSpanId !== null) headers['x-b3-parentspanid'] = parentSpanId;
          headers['x-b3-sampled'] = '0';
        }
      }
      if (requestId !== null && headers[REQUEST_ID_HEADER] === undefined)
        headers[REQUEST_ID_HEADER] = requestId;
    },
  });
}
