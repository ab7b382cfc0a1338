import { describe, expect, it } from 'vitest';
import { bookinfo, harness, planOf } from './support/setup.js';
import { mongoTcp, reviewsVs, threeV1 } from './support/yaml.js';

// The sidecar's outbound listener parses the application's request with the same HTTP/1 codec:
// more than 100 headers (max_headers_count's default) is a 431 local reply with Envoy's body,
// flag DPE, details http1.too_many_headers, before routing; nothing is sent upstream.

function headers(n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) out[`x-h${i}`] = 'v';
  return out;
}

describe('the header count limit on outbound calls', () => {
  it('sends 100 headers (the host header the call adds among them)', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs('')], threeV1), () => ({ status: 200 }));
    const res = await h.call('http://reviews:9080/', { headers: headers(99) });
    expect(res.status).toBe(200);
    expect(h.transport.seen).toHaveLength(1);
  });

  it('answers 101 itself with 431 DPE and sends nothing', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs('')], threeV1), () => ({ status: 200 }));
    const res = await h.call('http://reviews:9080/', { headers: headers(100) });
    expect([res.status, await res.text(), res.meshlet.flags]).toEqual([
      431,
      'Request Header Fields Too Large',
      ['DPE'],
    ]);
    expect(h.transport.seen).toHaveLength(0);
  });

  it('lets any number through to a known port that is not HTTP: the sidecar proxies it as TCP, no codec', async () => {
    const h = harness(planOf([...bookinfo(), mongoTcp], threeV1), () => ({ status: 200 }));
    const res = await h.call('http://mongo.example.com:27017/', { headers: headers(150) });
    expect(res.status).toBe(200);
    expect(h.transport.seen).toHaveLength(1);
  });

  it('does so for a host no route knows too, before the passthrough cluster', async () => {
    const h = harness(planOf([...bookinfo()], threeV1), () => ({ status: 200 }));
    const res = await h.call('http://api.example.com/', { headers: headers(100) });
    expect(res.status).toBe(431);
    expect(h.transport.seen).toHaveLength(0);
  });
});
