import { describe, expect, it } from 'vitest';
import { harness, planOf, sample } from './support/setup.js';
import { threeV1 } from './support/yaml.js';

// consistentHash.httpHeaderName on a header the application sends twice. Envoy's
// HeaderHashMethod (envoy source/common/http/hash_policy.cc) hashes every entry of the header
// (sorted, chained xxHash64). What Envoy sees depends on what the application put on the wire:
// - `{ 'x-user': ['b', 'a'] }` is two `x-user` lines (meshlet's transports, like Node's http
//   client, send one line per array value), two header entries to Envoy;
// - a WHATWG `Headers` with two appends holds one combined value `b, a`, one line, one entry.

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }
`;

function reviews() {
  return harness(planOf([sample('bookinfo-platform/bookinfo.yaml'), DR], threeV1), () => ({ status: 200 }));
}

describe('consistentHash.httpHeaderName with a repeated header (Envoy HeaderHashMethod)', () => {
  it('hashes every value of an array header, as the separate lines Envoy would see', async () => {
    const h = reviews();
    await h.call('http://reviews:9080/', { headers: { 'x-user': ['b', 'a'] } });
    expect(h.clusters.picks.map((p) => p.hashKey)).toEqual([['b', 'a']]);
  });

  it('hashes the one combined value of a Headers object appended twice', async () => {
    const h = reviews();
    const headers = new Headers();
    headers.append('x-user', 'b');
    headers.append('x-user', 'a');
    await h.call('http://reviews:9080/', { headers });
    expect(h.clusters.picks.map((p) => p.hashKey)).toEqual(['b, a']);
  });
});
