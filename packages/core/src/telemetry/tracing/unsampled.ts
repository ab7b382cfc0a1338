import {
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import type { IdGenerator } from '@opentelemetry/sdk-trace-base';

// Two hex digits per byte from a table: `Number#toString(16)` and `Buffer#toString('hex')`
// were each a measurable share of an unsampled call's telemetry.
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The 8 lower-case hex digits of a 32-bit word, big-endian (as `writeUInt32BE` lays it out). */
const hex8 = (w: number): string =>
  HEX[w >>> 24]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;
const randomWord = (): number => (Math.random() * 0x1_0000_0000) >>> 0;

/** A random non-zero lower-case hex id of `bytes` bytes (8: span id, 16: trace id), as the SDK's RandomIdGenerator makes them. */
function randomId(bytes: 8 | 16): string {
  for (;;) {
    let all = 0;
    let hex = '';
    for (let i = 0; i < bytes; i += 4) {
      const w = randomWord();
      all |= w;
      hex += hex8(w);
    }
    if (all !== 0) return hex;
  }
}

/**
 * The id generator of meshlet's own provider: random ids as the SDK's RandomIdGenerator
 * makes them, except that the next trace id can be handed in (`preset`) so the SDK
 * builds a span on the trace id meshlet already drew and decided to sample.
 */
export interface MeshIdGenerator extends IdGenerator {
  /** Consumed by the next `generateTraceId()`. */
  preset: string | null;
}

export function createMeshIdGenerator(): MeshIdGenerator {
  const gen: MeshIdGenerator = {
    preset: null,
    generateTraceId() {
      const id = gen.preset;
      gen.preset = null;
      return id ?? randomId(16);
    },
    generateSpanId: () => randomId(8),
  };
  return gen;
}

/**
 * The TraceIdRatioBased sampler's bound for `percent` (OTel SDK
 * `TraceIdRatioBasedSampler`: `ratio === 1 ? 2^32 : floor(ratio * 0xffffffff)`).
 */
export function ratioUpperBound(percent: number): number {
  const ratio = Math.min(100, Math.max(0, percent)) / 100;
  return ratio === 1 ? 0x1_0000_0000 : Math.floor(ratio * 0xffffffff);
}

/**
 * The span of a request the mesh sampler will not record, made without the SDK: a
 * valid parent that is not sampled (the sampler is parent-based, so the child
 * follows), or a new trace whose id the ratio sampler rejects. For a new trace meshlet
 * draws the trace id and applies the SDK's TraceIdRatioBased rule itself (same bound,
 * same id bits, so every hop still agrees); when the id is sampled it is handed to
 * `ids` for the SDK span and null is returned. Null also when the parent is sampled.
 * Same trace id and flags as the SDK's NonRecordingSpan.
 */
export function knownUnsampledSpan(
  parent: Context,
  samplingPercent: number,
  ids?: MeshIdGenerator,
): Span | null {
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
  if (samplingPercent > 0 && ids === undefined) return null;
  const draw = new TraceIdDraw();
  if (draw.sampledAt(samplingPercent)) {
    if (ids !== undefined) ids.preset = draw.hex();
    return null;
  }
  return unsampledSpan(draw.hex());
}

/**
 * A new trace id drawn as four random 32-bit words (the bytes `randomId(16)` would
 * write), kept as numbers: the sampling draw is their XOR, and the hex is made only
 * when something reads the id (an outbound call, the application's own spans). At
 * Istio's 1 % default most inbound requests never need it.
 */
export class TraceIdDraw {
  #w0 = 0;
  #w1 = 0;
  #w2 = 0;
  #w3 = 0;
  #drawn = false;

  // Drawn on first use: when x-request-id decides sampling and nothing reads the trace
  // context, no random word is ever needed.
  #draw(): void {
    let w0: number, w1: number, w2: number, w3: number;
    do {
      w0 = randomWord();
      w1 = randomWord();
      w2 = randomWord();
      w3 = randomWord();
    } while ((w0 | w1 | w2 | w3) === 0); // the all-zero id is invalid (W3C trace context)
    this.#w0 = w0;
    this.#w1 = w1;
    this.#w2 = w2;
    this.#w3 = w3;
    this.#drawn = true;
  }

  /** The SDK's TraceIdRatioBased decision for this id at `percent`. */
  sampledAt(percent: number): boolean {
    if (!this.#drawn) this.#draw();
    return percent > 0 && (this.#w0 ^ this.#w1 ^ this.#w2 ^ this.#w3) >>> 0 < ratioUpperBound(percent);
  }

  /** The 32 lower-case hex digits of the id. */
  hex(): string {
    if (!this.#drawn) this.#draw();
    return hex8(this.#w0) + hex8(this.#w1) + hex8(this.#w2) + hex8(this.#w3);
  }
}

/**
 * The context of a new trace that is not sampled: built on first read, with a fresh
 * span id (or `spanId`), flags `00`, exactly what `knownUnsampledSpan` makes eagerly.
 */
export function unsampledRootContext(draw: TraceIdDraw, traceId = draw.hex(), spanId = newSpanId()): Context {
  return trace.setSpan(ROOT_CONTEXT, unsampledSpan(traceId, spanId));
}

/** A new random span id, as the SDK's RandomIdGenerator makes one. */
export function newSpanId(): string {
  return randomId(8);
}

/** A non-recording span with a new span id (or `spanId`) on `traceId`, flags `00`. */
export function unsampledSpan(traceId: string, spanId = randomId(8)): Span {
  return trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.NONE });
}

/**
 * A sampled span for a provider with no span processor: the same trace id the SDK
 * would use (the parent's, else the preset or a new one from `ids`), a new span id and
 * the sampled flag, so the decision still reaches the next hop, but nothing recorded.
 */
export function sampledNonRecordingSpan(parent: Context, ids: MeshIdGenerator): Span {
  const sc: SpanContext | undefined = trace.getSpanContext(parent);
  const valid = sc !== undefined && isSpanContextValid(sc);
  return trace.wrapSpanContext({
    traceId: valid ? sc.traceId : ids.generateTraceId(),
    spanId: randomId(8),
    traceFlags: TraceFlags.SAMPLED,
    ...(valid && sc.traceState !== undefined ? { traceState: sc.traceState } : {}),
  });
}
