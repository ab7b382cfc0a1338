import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh } from '../../src/testing/index.js';
import { SAMPLES } from '../helpers/tmp.js';
import {
  envoyFilterYaml,
  PATH_DESCRIPTOR,
  rateLimitFilterPatch,
  virtualHostRateLimitsPatch,
} from '../helpers/global-rate-limit.js';

// Global rate limits on the mock mesh: the EnvoyFilters of istio.io's "Enabling Rate Limits
// using Envoy" task, answered by mm.rateLimitService (envoyproxy/ratelimit's semantics in
// memory, windows on the virtual clock).

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

const CONFIG = `domain: ratelimit
descriptors:
  - key: PATH
    value: "/productpage"
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: PATH
    rate_limit: { unit: minute, requests_per_unit: 100 }
`;

/** The task's filter on productpage's inbound side, calling the ratelimit service's cluster. */
const sidecarFilter = (failureModeDeny: boolean) =>
  envoyFilterYaml({
    namespace: 'default',
    app: 'productpage',
    patches: [
      rateLimitFilterPatch({
        cluster: 'outbound|8081||ratelimit.default.svc.cluster.local',
        failureModeDeny,
        timeout: '10s',
      }),
      virtualHostRateLimitsPatch(PATH_DESCRIPTOR),
    ],
  });

async function bookinfo(filter: string): Promise<MockMesh> {
  const mm = await createMockMesh({
    config: [path.join(SAMPLES, 'bookinfo-platform/bookinfo.yaml'), filter],
    seed: 1,
  });
  open.push(mm);
  mm.service(
    'productpage',
    { serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' }, port: 9080 },
    () => ({ status: 200, body: 'page' }),
  );
  return mm;
}

const statuses = async (
  call: () => Promise<{ status: number; text(): Promise<string> }>,
  n: number,
): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await call();
    await r.text();
    out.push(r.status);
  }
  return out;
};

describe('mock mesh: global rate limits', () => {
  it('limits /productpage once a minute at the sidecar, and a minute of virtual time resets the window', async () => {
    const mm = await bookinfo(sidecarFilter(false));
    const rls = mm.rateLimitService('ratelimit.default.svc.cluster.local', CONFIG);
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const page = () => sleep.fetch('http://productpage:9080/productpage');
    expect(await statuses(page, 2)).toEqual([200, 429]);
    const limited = await page();
    expect(limited.headers.get('x-envoy-ratelimited')).toBe('true');
    expect(await statuses(() => sleep.fetch('http://productpage:9080/api/v1/products'), 3)).toEqual([
      200, 200, 200,
    ]);
    expect(rls.calls[0]).toEqual({
      domain: 'ratelimit',
      descriptors: [{ entries: [{ key: 'PATH', value: '/productpage' }] }],
    });
    await mm.clock.advance(60_000);
    expect(await statuses(page, 2)).toEqual([200, 429]);
    // The flag is the server side's: the caller's sidecar got a plain 429.
    expect(mm.log.findLast((h) => h.status === 429)?.flags).toEqual([]);
    expect(await mm.metric('istio_requests_total', { reporter: 'destination', response_flags: 'RL' })).toBe(
      3,
    );
  });

  it('lets requests through when the service is down, and refuses them 500 RLSE under failure_mode_deny', async () => {
    const open = await bookinfo(sidecarFilter(false));
    open.rateLimitService('ratelimit.default.svc.cluster.local', CONFIG).down();
    const a = open.workload({ serviceAccount: 'sleep' });
    expect(await statuses(() => a.fetch('http://productpage:9080/productpage'), 3)).toEqual([200, 200, 200]);

    const closed = await bookinfo(sidecarFilter(true));
    const rls = closed.rateLimitService('ratelimit.default.svc.cluster.local', CONFIG);
    const b = closed.workload({ serviceAccount: 'sleep' });
    rls.down();
    expect(await statuses(() => b.fetch('http://productpage:9080/productpage'), 1)).toEqual([500]);
    expect(
      await closed.metric('istio_requests_total', { reporter: 'destination', response_flags: 'RLSE' }),
    ).toBe(1);
    rls.up();
    expect(await statuses(() => b.fetch('http://productpage:9080/productpage'), 2)).toEqual([200, 429]);
  });

  it('fails the calls of a filter whose service has no mm.rateLimitService', async () => {
    const mm = await bookinfo(sidecarFilter(true));
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    expect(await statuses(() => sleep.fetch('http://productpage:9080/productpage'), 1)).toEqual([500]);
  });

  it("runs the Bookinfo sample's gateway filter (with transport_api_version V3) through mm.gateway()", async () => {
    const sample = await readFile(
      path.join(SAMPLES, 'bookinfo-policy/productpage_envoy_ratelimit.yaml'),
      'utf8',
    );
    const fixed = sample.replace(
      '            rate_limit_service:\n',
      '            rate_limit_service:\n              transport_api_version: V3\n',
    );
    expect(fixed).not.toBe(sample);
    const mm = await createMockMesh({
      config: [
        path.join(SAMPLES, 'bookinfo-platform/bookinfo.yaml'),
        path.join(SAMPLES, 'bookinfo-networking/bookinfo-gateway.yaml'),
        fixed,
      ],
      seed: 1,
    });
    open.push(mm);
    mm.service(
      'productpage',
      { serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage', version: 'v1' }, port: 9080 },
      () => ({ status: 200, body: 'page' }),
    );
    // The sample's patched cluster sends to ratelimit.default.svc.cluster.local:8081.
    const rls = mm.rateLimitService(
      'ratelimit.default.svc.cluster.local',
      CONFIG.replace('ratelimit', 'productpage-ratelimit'),
    );
    const gw = mm.gateway();
    const page = () => gw.fetch('http://bookinfo.example/productpage');
    expect(await statuses(page, 2)).toEqual([200, 429]);
    expect(rls.calls.map((c) => c.domain)).toEqual(['productpage-ratelimit', 'productpage-ratelimit']);
  });

  it('refuses a second service for one host, and a configuration envoyproxy/ratelimit refuses', async () => {
    const mm = await bookinfo(sidecarFilter(false));
    mm.rateLimitService('ratelimit.default.svc.cluster.local', CONFIG);
    expect(() => mm.rateLimitService('ratelimit.default.svc.cluster.local', CONFIG)).toThrow(
      expect.objectContaining({ code: 'MESHLET_ERR_MESH_OPTIONS' }),
    );
    expect(() =>
      mm.rateLimitService(
        'other',
        'domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: fortnight, requests_per_unit: 1 }\n',
      ),
    ).toThrow(expect.objectContaining({ code: 'MESHLET_ERR_RATELIMIT_CONFIG' }));
  });
});
