import { randomFillSync } from 'node:crypto';

/** Random bytes for 256 ids, refilled from the CSPRNG when used up (as `crypto.randomUUID` batches). */
const pool = Buffer.allocUnsafe(16 * 256);
let next = pool.length;
/** Character codes of the 16 lower-case hex digits. */
const H: readonly number[] = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const DASH = 0x2d;
const FOUR = 0x34;

/**
 * A random (version 4) UUID for `x-request-id`, as Envoy's UUID request-id extension
 * generates at the edge. Same randomness as `crypto.randomUUID`, but made as one flat
 * string: `randomUUID` concatenates twenty pieces, which every later read (the trace
 * sampling draw, header maps) first flattens. In the callgrind bench the id cost ~1,100
 * instructions per request more that way.
 */
export function requestUuid(): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const p = pool;
  const n = next;
  next += 16;
  // Each digit read inline: per-call helper closures were neither inlined nor free (a
  // closure allocated and lazily compiled on every call).
  // RFC 9562 §5.4: version 4 in byte 6's high nibble, variant 0b10 in byte 8's top bits.
  // prettier-ignore
  return String.fromCharCode(
    H[p[n]! >> 4]!, H[p[n]! & 15]!, H[p[n + 1]! >> 4]!, H[p[n + 1]! & 15]!,
    H[p[n + 2]! >> 4]!, H[p[n + 2]! & 15]!, H[p[n + 3]! >> 4]!, H[p[n + 3]! & 15]!, DASH,
    H[p[n + 4]! >> 4]!, H[p[n + 4]! & 15]!, H[p[n + 5]! >> 4]!, H[p[n + 5]! & 15]!, DASH,
    FOUR, H[p[n + 6]! & 15]!, H[p[n + 7]! >> 4]!, H[p[n + 7]! & 15]!, DASH,
    H[((p[n + 8]! & 0x3f) | 0x80) >> 4]!, H[p[n + 8]! & 15]!, H[p[n + 9]! >> 4]!, H[p[n + 9]! & 15]!, DASH,
    H[p[n + 10]! >> 4]!, H[p[n + 10]! & 15]!, H[p[n + 11]! >> 4]!, H[p[n + 11]! & 15]!,
    H[p[n + 12]! >> 4]!, H[p[n + 12]! & 15]!, H[p[n + 13]! >> 4]!, H[p[n + 13]! & 15]!,
    H[p[n + 14]! >> 4]!, H[p[n + 14]! & 15]!, H[p[n + 15]! >> 4]!, H[p[n + 15]! & 15]!,
  );
}
