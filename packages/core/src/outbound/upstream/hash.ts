import type { Random } from '../../runtime/random.js';
import { xxHash64, type Hash64 } from './xxhash64.js';

/**
 * The 64-bit request hash of a consistent-hash key, as Envoy's hash policies compute it
 * (envoy source/common/http/hash_policy.cc): `HashUtil::xxHash64(value)`, seed 0, for a
 * cookie, query parameter, source IP or single header value.
 */
export function keyHash(key: string): Hash64 {
  return xxHash64(key);
}

/**
 * `HashUtil::xxHash64(absl::Span<string_view>)` (hash.cc): each string hashed with the
 * previous hash as its seed, starting from 0. envoy hash_test.cc pins ["foo","bar"] to
 * 17745830980996999794.
 */
export function stringsHash(values: readonly string[]): Hash64 {
  let h: Hash64 = { hi: 0, lo: 0 };
  for (const v of values) h = xxHash64(v, h);
  return h;
}

/**
 * A header that occurs several times: Envoy sorts the values (so their order does not
 * matter) and hashes them chained (hash_policy.cc `HeaderHashMethod::evaluate`).
 */
export function headerHash(values: readonly string[]): Hash64 {
  if (values.length === 1) return keyHash(values[0]!);
  return stringsHash([...values].sort(byBytes));
}

/** std::sort on string_view: byte order, which is code-unit order for latin1 text. */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Envoy `random_.random()`: a uniform 64-bit value when the request has no hash key. */
export function randomHash(random: Random): Hash64 {
  return {
    hi: Math.floor(random.next() * 4294967296) >>> 0,
    lo: Math.floor(random.next() * 4294967296) >>> 0,
  };
}

/**
 * A request's consistent-hash key: one value (a cookie, query parameter, source IP or a
 * header sent once), every value of a header sent several times, or null when the request
 * has none (Envoy then hashes a random value).
 */
export type HashKey = string | readonly string[] | null;

/** The 64-bit hash Envoy computes for a key: {@link keyHash} or, for several values, {@link headerHash}. */
export function hashOfKey(key: string | readonly string[]): Hash64 {
  return typeof key === 'string' ? keyHash(key) : headerHash(key);
}

/**
 * Remembers the hash of the last key, so a retry (or a burst of requests with the same
 * session key) does not hash it again. A key of several values is remembered by identity:
 * a request's retries pass the same array.
 */
export function createKeyHasher(): (key: string | readonly string[]) => Hash64 {
  let lastKey: string | readonly string[] | null = null;
  let last: Hash64 = { hi: 0, lo: 0 };
  return (key) => {
    if (key !== lastKey) {
      lastKey = key;
      last = hashOfKey(key);
    }
    return last;
  };
}
