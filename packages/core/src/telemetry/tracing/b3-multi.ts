import { isSpanContextValid, TraceFlags, type SpanContext } from '@opentelemetry/api';
import type { OutgoingHeaders } from './propagation.js';

/**
 * B3 multi-header injection as Envoy's Zipkin tracer writes it on an egress request
 * (envoy source/extensions/tracers/zipkin/zipkin_tracer_impl.cc ZipkinSpan::injectContext):
 * `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid` when the span has a parent (an egress
 * span's parent is the context it continued: tracer.cc Tracer::startSpan sets it to the
 * previous span's id), and always `x-b3-sampled` `1`/`0`, never `x-b3-flags`. OpenTelemetry's
 * B3 propagator writes no parent id and turns a debug flag into `x-b3-flags: 1`.
 */
export function injectB3Multi(sc: SpanContext, parentSpanId: string | null, headers: OutgoingHeaders): void {
  if (!isSpanContextValid(sc)) return;
  headers['x-b3-traceid'] = sc.traceId;
  headers['x-b3-spanid'] = sc.spanId;
  if (parentSpanId !== null) headers['x-b3-parentspanid'] = parentSpanId;
  headers['x-b3-sampled'] = (sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? '1' : '0';
}
