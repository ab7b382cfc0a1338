import { describe, expect, it } from 'vitest';
import type { CompiledRule } from '../../../src/inbound/jwt/compile-rules.js';
import type { ParsedJwt } from '../../../src/inbound/jwt/parse-token.js';
import { TokenCache } from '../../../src/inbound/jwt/token-cache.js';
import type { JwtOk } from '../../../src/inbound/jwt/token-cache.js';

const RULE = {} as CompiledRule;
const OK: JwtOk = Object.freeze({
  kind: 'ok',
  principal: 'iss/sub',
  claims: {},
  issuer: 'iss',
  removeHeaders: [],
  setHeaders: {},
});

function jwt(token: string, exp = 0): ParsedJwt {
  return { token, exp, nbf: 0 } as unknown as ParsedJwt;
}

describe('TokenCache', () => {
  it('evicts the least recently used token when a hit on the newest token is repeated', () => {
    const cache = new TokenCache(2);
    cache.remember(jwt('a'), RULE, 'k', OK);
    cache.remember(jwt('b'), RULE, 'k', OK);
    // 'a' becomes the most recent; repeated hits on it must keep it so.
    expect(cache.get('a', 0, 60)).toBeDefined();
    expect(cache.get('a', 0, 60)).toBeDefined();
    cache.remember(jwt('c'), RULE, 'k', OK);
    expect(cache.get('b', 0, 60)).toBeUndefined();
    expect(cache.get('a', 0, 60)?.results.get(RULE)?.get('k')).toBe(OK);
    expect(cache.get('c', 0, 60)).toBeDefined();
  });

  it('drops the most recent token once it is past exp plus the skew, also on a repeated hit', () => {
    const cache = new TokenCache(10);
    cache.remember(jwt('a', 1000), RULE, 'k', OK);
    expect(cache.get('a', 1060, 60)).toBeDefined();
    expect(cache.get('a', 1061, 60)).toBeUndefined();
    // Gone from the map too: an earlier time does not bring it back.
    expect(cache.get('a', 0, 60)).toBeUndefined();
  });

  it('forgets every token on clear, the most recent one included', () => {
    const cache = new TokenCache(10);
    cache.remember(jwt('a'), RULE, 'k', OK);
    expect(cache.get('a', 0, 60)).toBeDefined();
    cache.clear();
    expect(cache.get('a', 0, 60)).toBeUndefined();
  });

  it('keeps nothing when its size is 0', () => {
    const cache = new TokenCache(0);
    cache.remember(jwt('a'), RULE, 'k', OK);
    expect(cache.get('a', 0, 60)).toBeUndefined();
  });

  it('never answers for a different token that ends the same way, and keeps the newer one remembered', () => {
    const tail = 'x'.repeat(40);
    const first = `header.payload-one.${tail}`;
    const second = `header.payload-two.${tail}`;
    const cache = new TokenCache(10);
    cache.remember(jwt(first), RULE, 'k', OK);
    expect(cache.get(second, 0, 60)).toBeUndefined();
    // The first is no longer the most recent after a miss on another token.
    cache.remember(jwt('other'), RULE, 'k', OK);
    expect(cache.get(second, 0, 60)).toBeUndefined();
    expect(cache.get(first, 0, 60)?.jwt.token).toBe(first);
    cache.remember(jwt(second), RULE, 'k', OK);
    cache.remember(jwt('other'), RULE, 'k', OK);
    expect(cache.get(second, 0, 60)?.jwt.token).toBe(second);
    expect(cache.get(first, 0, 60)).toBeUndefined();
  });
});
