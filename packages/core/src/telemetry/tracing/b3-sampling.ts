// The sampling decision B3 headers leave open or make without trace ids, read as Envoy's
// Zipkin tracer reads them, for the SERVER span of a request.
import { trace, TraceFlags, type Context } from '@opentelemetry/api';
import type { HeaderRecord } from './propagation.js';

/**
 * Whether the request's trace context is B3 without a sampling decision (no `x-b3-sampled`
 * or `x-b3-flags`, or a `b3` header of only trace and span ids): W3C always carries one.
 */
export function b3Deferred(headers: HeaderRecord): boolean {
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
export function b3FlagOnly(headers: HeaderRecord): boolean | null {
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
export function sampledParent(parent: Context): Context {
  const sc = trace.getSpanContext(parent);
  return sc === undefined ? parent : trace.setSpanContext(parent, { ...sc, traceFlags: TraceFlags.SAMPLED });
}
