import { describe, expect, it } from 'vitest';
import { harness, planOf, sample, scriptedRandom, type Harness } from './support/setup.js';
import { threeV1 } from './support/yaml.js';

// DestinationRule consistentHash.httpCookie with a ttl: a request without the cookie gets one
// (istio route.go ConsistentHashToHashPolicy passes name, ttl, path and attributes to Envoy's
// hash policy). Envoy hashes the value it makes up, hex of a 64-bit xxHash64
// (router.cc addDownstreamSetCookie, Hex::uint64ToHex), and adds to the upstream's response
// `Set-Cookie: <name>="<value>"; Max-Age=<ttl s>; Path=<path>; <attributes>; HttpOnly`
// (http/utility.cc makeSetCookieValue; Max-Age left out for a zero ttl, a session cookie).

function cookieDr(cookie: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: ${cookie} } } }
`;
}

function sticky(cookie: string, status = 200): Harness {
  return harness(
    planOf([sample('bookinfo-platform/bookinfo.yaml'), cookieDr(cookie)], threeV1),
    () => ({ status, headers: { 'set-cookie': 'app=1; Path=/' } }),
    { random: scriptedRandom([0.25, 0.5, 0.75]) },
  );
}

describe('consistentHash.httpCookie with a ttl issues the cookie (Envoy hash_policy.cc CookieHashMethod)', () => {
  it('answers a request without the cookie with Set-Cookie, and hashes on the value it issued', async () => {
    const h = sticky(
      '{ name: user, ttl: 60s, path: /, attributes: [{ name: SameSite, value: Lax }, { name: Secure }] }',
    );
    const res = await h.call('http://reviews:9080/');
    const issued = res.headers.getSetCookie();
    expect(issued).toHaveLength(2);
    const mine = issued.find((c) => c.startsWith('user='));
    expect(mine).toMatch(/^user="[0-9a-f]{16}"; Max-Age=60; Path=\/; SameSite=Lax; Secure; HttpOnly$/);
    const value = /^user="([0-9a-f]{16})"/.exec(mine ?? '')?.[1];
    expect(h.clusters.picks.map((p) => p.hashKey)).toEqual([value]);
    // The application's own Set-Cookie stays.
    expect(issued).toContain('app=1; Path=/');
  });

  it('issues nothing when the request carries the cookie, and hashes on it', async () => {
    const h = sticky('{ name: user, ttl: 60s }');
    const res = await h.call('http://reviews:9080/', { headers: { cookie: 'user="0123456789abcdef"' } });
    expect(res.headers.getSetCookie()).toEqual(['app=1; Path=/']);
    expect(h.clusters.picks.map((p) => p.hashKey)).toEqual(['0123456789abcdef']);
  });

  it('a zero ttl issues a session cookie (no Max-Age); no ttl issues none', async () => {
    const session = sticky('{ name: user, ttl: 0s }');
    const res = await session.call('http://reviews:9080/');
    expect(res.headers.getSetCookie()).toContainEqual(
      expect.stringMatching(/^user="[0-9a-f]{16}"; HttpOnly$/),
    );
    const none = sticky('{ name: user }');
    const plain = await none.call('http://reviews:9080/');
    expect(plain.headers.getSetCookie()).toEqual(['app=1; Path=/']);
    expect(none.clusters.picks.map((p) => p.hashKey)).toEqual([null]);
  });

  it('issues a different cookie to each new client', async () => {
    const h = sticky('{ name: user, ttl: 60s }');
    const first = await h.call('http://reviews:9080/');
    const second = await h.call('http://reviews:9080/');
    const value = (r: typeof first) => r.headers.getSetCookie().find((c) => c.startsWith('user='));
    expect(value(first)).not.toEqual(value(second));
  });
});
