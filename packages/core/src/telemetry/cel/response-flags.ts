import { RESPONSE_FLAGS } from '../access-log/names.js';

/**
 * `response.flags` is Envoy's legacy response-flag bitmask (context.cc ResponseLookupValues
 * `legacyResponseFlags`), bits as in envoy/stream_info/stream_info.h `ResponseFlag`.
 */
const LEGACY_FLAGS = RESPONSE_FLAGS.slice(0, RESPONSE_FLAGS.findIndex(([short]) => short === 'DF') + 1);
/** Each legacy flag's bit is its place in Envoy's core order (`1 << i`, up to `DF`). */
const BITS: Readonly<Record<string, number>> = Object.fromEntries(
  LEGACY_FLAGS.map(([short], i) => [short, 2 ** i]),
);

/** The bitmask of short flag names (`UO`, `NR`...) as a CEL int. */
export function responseFlagBits(flags: readonly string[]): bigint {
  let bits = 0;
  for (const f of flags) if (Object.hasOwn(BITS, f)) bits |= BITS[f] as number;
  return BigInt(bits);
}
