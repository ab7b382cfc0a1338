import type { JwtResult } from './types.js';
import type { CompiledRule } from './compile-rules.js';
import type { ParsedJwt } from './parse-token.js';

/** A successful verification, reusable while the token is in time. */
export type JwtOk = Extract<JwtResult, { kind: 'ok' }>;

/** A token that some rule verified: its parse, and the result per rule and token location. */
export interface CachedToken {
  readonly jwt: ParsedJwt;
  readonly results: Map<CompiledRule, Map<string, JwtOk>>;
}

/**
 * The map key of a token: its last characters, the end of the signature. A JWS
 * signature's base64url is random to whoever lacks the key, so two verified tokens
 * rarely share it, and a lookup still compares the whole token. Hashing the whole
 * token (~900 characters for RS256) was ~1.4 µs per request here, a third of what a
 * cached verification costs, on every request whose token differs from the previous one.
 */
const KEY_CHARS = 24;
const keyOf = (token: string): string => (token.length <= KEY_CHARS ? token : token.slice(-KEY_CHARS));

/**
 * A bounded LRU of verified tokens (Envoy keeps one per provider: jwt_authn `JwtCache`), so a
 * repeated token skips parsing and signature checks. Entries past `exp` + skew are dropped on
 * lookup; the caller still re-checks time on every hit, as Envoy's `startVerify` does.
 * Keyed by `keyOf`: a different token with the same key is a miss, and remembering it
 * replaces the entry.
 */
export class TokenCache {
  readonly #max: number;
  readonly #map = new Map<string, CachedToken>();
  /** The most recently used entry: a repeat of it (the common case) skips the map and re-ordering it. */
  #mru: CachedToken | null = null;

  constructor(max: number) {
    this.#max = max;
  }

  get(token: string, nowSec: number, skewSec: number): CachedToken | undefined {
    const mru = this.#mru;
    if (mru !== null && mru.jwt.token === token) {
      // Already last in LRU order, so moving it there again would change nothing.
      if (mru.jwt.exp !== 0 && nowSec > mru.jwt.exp + skewSec) {
        this.#map.delete(keyOf(token));
        this.#mru = null;
        return undefined;
      }
      return mru;
    }
    const key = keyOf(token);
    const hit = this.#map.get(key);
    if (hit === undefined || hit.jwt.token !== token) return undefined;
    this.#map.delete(key);
    if (hit.jwt.exp !== 0 && nowSec > hit.jwt.exp + skewSec) return undefined;
    this.#map.set(key, hit);
    this.#mru = hit;
    return hit;
  }

  remember(jwt: ParsedJwt, rule: CompiledRule, locationKey: string, result: JwtOk): void {
    if (this.#max === 0) return;
    const key = keyOf(jwt.token);
    let entry = this.#map.get(key);
    if (entry === undefined || entry.jwt.token !== jwt.token) {
      if (entry !== undefined) this.#map.delete(key);
      entry = { jwt, results: new Map() };
      this.#map.set(key, entry);
      if (this.#map.size > this.#max) {
        const oldest = this.#map.keys().next();
        if (oldest.done !== true) this.#map.delete(oldest.value);
      }
      this.#mru = entry;
    }
    let byLocation = entry.results.get(rule);
    if (byLocation === undefined) {
      byLocation = new Map();
      entry.results.set(rule, byLocation);
    }
    byLocation.set(locationKey, result);
  }

  clear(): void {
    this.#map.clear();
    this.#mru = null;
  }
}
