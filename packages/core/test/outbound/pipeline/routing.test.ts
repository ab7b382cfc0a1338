import { describe, expect, it } from 'vitest';
import { isMeshletError } from '../../../src/errors/meshlet-error.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { bookinfo, drive, echoAddress, flush, harness, planOf, sample } from './support/setup.js';

const vs = (file: string): string => sample(`bookinfo-networking/${file}`);

describe('outbound routing', () => {
  it('sends jason to reviews v2 and everyone else to v3 (header canary)', async () => {
    const h = harness(planOf([...bookinfo(), vs('virtual-service-reviews-jason-v2-v3.yaml')]), echoAddress);
    const jason = await h.client.fetch('http://reviews:9080/reviews/0', { headers: { 'end-user': 'jason' } });
    expect(await jason.text()).toBe('10.0.1.2:9080');
    expect(jason.meshlet.upstream).toEqual({
      host: 'reviews.default.svc.cluster.local',
      subset: 'v2',
      address: '10.0.1.2:9080',
      cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
    });
    expect(jason.meshlet.route).toBe('default/reviews/0');
    const other = await h.client.fetch('http://reviews:9080/reviews/0', {
      headers: { 'end-user': 'mallory' },
    });
    expect(await other.text()).toBe('10.0.1.3:9080');
    expect(other.meshlet.route).toBe('default/reviews/1');
    expect(other.meshlet.flags).toEqual([]);
    expect(other.meshlet.attempts).toBe(1);
  });

  it.each([
    ['virtual-service-reviews-90-10.yaml', { '10.0.1.1:9080': 0.9, '10.0.1.2:9080': 0.1 }],
    ['virtual-service-reviews-80-20.yaml', { '10.0.1.1:9080': 0.8, '10.0.1.2:9080': 0.2 }],
    ['virtual-service-reviews-50-v3.yaml', { '10.0.1.1:9080': 0.5, '10.0.1.3:9080': 0.5 }],
  ])('splits traffic per %s within statistical bounds over 2,000 calls', async (file, want) => {
    const h = harness(planOf([...bookinfo(), vs(file)]), echoAddress, { random: seededRandom(42) });
    const n = 2000;
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const res = await h.client.fetch('http://reviews:9080/');
      const who = await res.text();
      counts[who] = (counts[who] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(Object.keys(want).sort());
    for (const [who, p] of Object.entries(want)) {
      // 4 standard deviations of a binomial: fails for a wrong split, not for noise.
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs((counts[who] ?? 0) - n * p), who).toBeLessThan(4 * sd);
    }
  });

  it('shifts traffic when the plan changes from all-v1 to 50/50 v3', async () => {
    const h = harness(planOf([...bookinfo(), vs('virtual-service-all-v1.yaml')]), echoAddress);
    const before = new Set<string>();
    for (let i = 0; i < 50; i++) before.add(await (await h.client.fetch('http://reviews:9080/')).text());
    expect([...before]).toEqual(['10.0.1.1:9080']);
    h.plan = planOf([...bookinfo(), vs('virtual-service-reviews-50-v3.yaml')]);
    const after = new Set<string>();
    for (let i = 0; i < 50; i++) after.add(await (await h.client.fetch('http://reviews:9080/')).text());
    expect([...after].sort()).toEqual(['10.0.1.1:9080', '10.0.1.3:9080']);
  });

  it('finishes a call on the plan it started with when the config changes mid-request', async () => {
    const h = harness(planOf([...bookinfo(), vs('virtual-service-reviews-v3.yaml')]), async (req, signal) => {
      await h.clock.sleep(100, signal ?? undefined);
      return { status: 200, body: req.address };
    });
    const pending = h.client.fetch('http://reviews:9080/');
    await flush();
    expect(h.transport.seen).toHaveLength(1);
    h.plan = planOf([...bookinfo(), vs('virtual-service-all-v1.yaml')]);
    await h.clock.advance(100);
    const res = await pending;
    expect(await res.text()).toBe('10.0.1.3:9080');
    expect(res.meshlet.upstream?.subset).toBe('v3');
    const next = await drive(h.clock, h.client.fetch('http://reviews:9080/'), 50);
    expect(await next.text()).toBe('10.0.1.1:9080');
  });

  it('answers 404 NR when the VirtualService owns the host but no rule matches', async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /api } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
`;
    const h = harness(planOf([...bookinfo(), yaml]), echoAddress);
    const res = await h.client.fetch('http://reviews:9080/other');
    expect(res.status).toBe(404);
    expect(res.meshlet.flags).toEqual(['NR']);
    expect(res.meshlet.attempts).toBe(0);
    expect(res.meshlet.upstream).toBeNull();
    expect(h.transport.seen).toHaveLength(0);
  });

  it('answers 503 NC for a subset no DestinationRule defines', async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, subset: v9 } }]
`;
    const h = harness(planOf([...bookinfo(), yaml]), echoAddress);
    const res = await h.client.fetch('http://reviews:9080/');
    expect(res.status).toBe(503);
    expect(res.meshlet.flags).toEqual(['NC']);
    expect(h.transport.seen).toHaveLength(0);
  });

  it('answers 503 UH "no healthy upstream" for a subset with no endpoints, and when all are ejected', async () => {
    const endpoints = {
      reviews: [{ address: '10.0.1.1', port: 9080, labels: { app: 'reviews', version: 'v1' } }],
    };
    const h = harness(planOf([...bookinfo(), vs('virtual-service-reviews-v3.yaml')], endpoints), echoAddress);
    const res = await h.client.fetch('http://reviews:9080/');
    expect([res.status, await res.text(), res.meshlet.flags]).toEqual([503, 'no healthy upstream', ['UH']]);
    h.plan = planOf([...bookinfo(), vs('virtual-service-all-v1.yaml')], endpoints);
    h.clusters.ejected.add('10.0.1.1:9080');
    const ejected = await h.client.fetch('http://reviews:9080/');
    expect([ejected.status, await ejected.text(), ejected.meshlet.flags]).toEqual([
      503,
      'no healthy upstream',
      ['UH'],
    ]);
  });

  it('passes unknown hosts straight through under ALLOW_ANY and answers 502 under REGISTRY_ONLY', async () => {
    const h = harness(planOf(bookinfo()), echoAddress);
    const res = await h.client.fetch('http://example.com/x?y=1');
    expect(res.status).toBe(200);
    expect(h.transport.seen[0]?.path).toBe('/x?y=1');
    expect(h.transport.seen[0]?.headers['host']).toBe('example.com');
    expect(h.transport.seen[0]?.headers['x-envoy-attempt-count']).toBeUndefined();
    expect(res.meshlet.upstream?.cluster).toBe('PassthroughCluster');
    expect(res.meshlet.route).toBe('allow_any');
    const meshCfg = `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
`;
    h.plan = planOf([...bookinfo(), meshCfg]);
    expect(h.plan.meshConfig.outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    const blocked = await h.client.fetch('http://example.com/x');
    expect(blocked.status).toBe(502);
    expect(blocked.meshlet.route).toBe('block_all');
    expect(h.transport.seen).toHaveLength(1);
  });

  it('resolves a DNS ServiceEntry host with no endpoints through resolveDns', async () => {
    const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: default }
spec:
  hosts: [api.example.org]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: NONE
  location: MESH_EXTERNAL
`;
    const looked: string[] = [];
    const h = harness(planOf([...bookinfo(), se]), echoAddress, {
      resolveDns: (host) => {
        looked.push(host);
        return Promise.resolve(['192.0.2.7', '192.0.2.8']);
      },
    });
    const a = await h.client.fetch('http://api.example.org/');
    const b = await h.client.fetch('http://api.example.org/');
    expect([await a.text(), await b.text()].sort()).toEqual(['192.0.2.7:80', '192.0.2.8:80']);
    expect(looked).toEqual(['api.example.org']);
    expect(a.meshlet.upstream?.cluster).toBe('outbound|80||api.example.org');
  });

  it.each([
    ['not a url', 'MESHLET_ERR_OUTBOUND_URL'],
    ['/relative/path', 'MESHLET_ERR_OUTBOUND_URL'],
    ['ftp://reviews/file', 'MESHLET_ERR_OUTBOUND_SCHEME'],
    ['file:///etc/passwd', 'MESHLET_ERR_OUTBOUND_SCHEME'],
  ])('rejects %j with %s, never throwing synchronously', async (url, code) => {
    const h = harness(planOf(bookinfo()), echoAddress);
    let p: Promise<unknown> | undefined;
    expect(() => {
      p = h.client.fetch(url);
    }).not.toThrow();
    const err: unknown = await p!.catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe(code);
  });

  it('rejects a body of an unsupported type with MESHLET_ERR_OUTBOUND_BODY', async () => {
    const h = harness(planOf(bookinfo()), echoAddress);
    const err: unknown = await h.client
      .fetch('http://reviews:9080/', { method: 'POST', body: 42 as unknown as string })
      .catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_OUTBOUND_BODY');
  });
});
