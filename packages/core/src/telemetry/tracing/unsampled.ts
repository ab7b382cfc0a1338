import {
  isSpanContextValid,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

const ids = Buffer.allocUnsafe(16);

/** A random non-zero lower-case hex id of `bytes` bytes (8: span id, 16: trace id), as the SDK's RandomIdGenerator makes them. */
function randomId(bytes: 8 | 16): string {
  for (;;) {
    for (let i = 0; i < bytes; i += 4) ids.writeUInt32BE((Math.random() * 0x1_0000_0000) >>> 0, i);
    const hex = ids.toString('hex', 0, bytes);
    if (hex !== (bytes === 8 ? '0000000000000000' : '00000000000000000000000000000000')) return hex;
  }
}

/**
 * The span of a request the mesh sampler will not record, made without the SDK when
 * the decision is known up front: a valid parent that is not sampled (the sampler is
 * parent-based, so the child follows), or no parent and a 0 % ratio. Same trace id
 * and flags as the SDK's NonRecordingSpan; null when the SDK must decide (a ratio
 * between 0 and 100 % on a new trace, a sampled parent).
 */
export function knownUnsampledSpan(parent: Context, samplingPercent: number): Span | null {
  const sc: SpanContext | undefined = trace.getSpanContext(parent);
  if (sc !== undefined && isSpanContextValid(sc)) {
    if ((sc.traceFlags & TraceFlags.SAMPLED) !== 0) return null;
    return trace.wrapSpanContext({
      traceId: sc.traceId,
      spanId: randomId(8),
      traceFlags: TraceFlags.NONE,
      ...(sc.traceState === undefined ? {} : { traceState: sc.traceState }),
    });
  }
  if (samplingPercent > 0) return null;
  return trace.wrapSpanContext({ traceId: randomId(16), spanId: randomId(8), traceFlags: TraceFlags.NONE });
}
