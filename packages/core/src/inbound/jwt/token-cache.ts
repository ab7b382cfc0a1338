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
 * A bounded LRU of verified tokens (Envoy keeps one per provider: jwt_authn `JwtCache`), so a
 * repeated token skips parsing and signature checks. Entries past `exp` + skew are dropped on
 * lookup; the caller still re-checks time on every hit, as Envoy's `startVerify` does.
 */
export class TokenCache {
  readonly #max: number;
  readonly #map = new Map<string, CachedToken>();
  /** The most recently used entry: a repeat of it (the common case) skips hashing the token and re-ordering the map. */
  #mru: CachedToken | null = null;

  constructor(max: number) {
    this.#max = max;
  }

  get(token: string, nowSec: number, skewSec: number): CachedToken | undefined {
    const mru = this.#mru;
    if (mru !== null && mru.jwt.token === token) {
      // Already last in LRU order, so moving it there again would change nothing.
      if (mru.jwt.exp !== 0 && nowSec > mru.jwt.exp + skewSec) {
        this.#map.delete(token);
        this.#mru = null;
        return undefined;
      }
      return mru;
    }
    const hit = this.#map.get(token);
    if (hit === undefined) return undefined;
    this.#map.delete(token);
    if (hit.jwt.exp !== 0 && nowSec > hit.jwt.exp + skewSec) return undefined;
    this.#map.set(token, hit);
    this.#mru = hit;
    return hit;
  }

  remember(jwt: ParsedJwt, rule: CompiledRule, locationKey: string, result: JwtOk): void {
    if (this.#max === 0) return;
    let entry = this.#map.get(jwt.token);
    if (entry === undefined) {
      entry = { jwt, results: new Map() };
      this.#map.set(jwt.token, entry);
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
