import { describe, expect, it } from 'vitest';
import { bookinfo, harness, planOf } from './support/setup.js';
import { reviewsVs, threeV1 } from './support/yaml.js';

// The sidecar's outbound connection manager gives the application's request an
// x-forwarded-proto when it has none: the scheme of the application's connection to the
// sidecar, which is plaintext (`http`), also when the sidecar then originates TLS
// (envoy conn_manager_utility.cc mutateRequestHeaders; the listener does not use the remote
// address, so a value the application sent stays). Servers behind Istio see `http` from mesh
// callers (istio/istio#7964).
describe('x-forwarded-proto on outbound calls', () => {
  it('is http on a routed call that has none, before the route reads the headers', async () => {
    const h = harness(
      planOf(
        [
          ...bookinfo(),
          reviewsVs(`    match: [{ headers: { x-forwarded-proto: { exact: http } } }]
    headers: { request: { add: { x-matched: "yes" } } }
`),
        ],
        threeV1,
      ),
      () => ({ status: 200 }),
    );
    const res = await h.call('http://reviews:9080/');
    expect(res.status).toBe(200);
    expect(h.transport.seen[0]?.headers['x-forwarded-proto']).toBe('http');
    expect(h.transport.seen[0]?.headers['x-matched']).toBe('yes');
  });

  it("keeps the application's", async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs('')], threeV1), () => ({ status: 200 }));
    await h.call('http://reviews:9080/', { headers: { 'X-Forwarded-Proto': 'https' } });
    expect(h.transport.seen[0]?.headers['x-forwarded-proto']).toBe('https');
  });

  it('is set on a call through the passthrough cluster too (the allow_any route)', async () => {
    const h = harness(planOf([...bookinfo()], threeV1), () => ({ status: 200 }));
    await h.call('http://api.example.com/');
    expect(h.transport.seen[0]?.headers['x-forwarded-proto']).toBe('http');
  });
});
