import { createServer } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createAdminServer,
  type AdminServer,
  type AdminServerOptions,
} from '../../src/admin/admin-server.js';
import type { ClusterStatus } from '../../src/admin/clusters-status.js';
import type { ConfigDump } from '../../src/admin/config-dump.js';
import type { ServerInfo } from '../../src/admin/server-info.js';
import type { MeshPlan } from '../../src/compile/plan-types.js';
import { createClusterManager } from '../../src/outbound/upstream/cluster-manager.js';
import type { ClusterManager } from '../../src/outbound/upstream/types.js';
import { createManualClock } from '../../src/runtime/clock.js';
import { seededRandom } from '../../src/runtime/random.js';
import { bookinfoPlan, HTTPBIN_CLUSTER, httpbinPlan, SLEEP } from './support.js';

const open: AdminServer[] = [];
const managers: ClusterManager[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  for (const m of managers.splice(0)) m.close();
});

const CONFIG = { hash: 'abc123def4567890', loadedAt: 1_700_000_000_000, files: ['mesh/a.yaml'] };

async function start(overrides: Partial<AdminServerOptions> = {}, plan: MeshPlan = httpbinPlan()) {
  const server = createAdminServer({
    getPlan: () => plan,
    getConfig: () => CONFIG,
    serverInfo: { version: '0.1.0', workload: SLEEP, startedAt: 1_000_000 },
    ...overrides,
  });
  open.push(server);
  const { port } = await server.listen();
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  return { server, port, url, get: (p: string) => fetch(url(p)) };
}

/** A cluster manager running httpbin's circuit-breaker cluster with 10.0.0.1 ejected by one 502. */
function managerWithEjectedHost(plan: MeshPlan) {
  const clock = createManualClock();
  const manager = createClusterManager({ clock, random: seededRandom(7) });
  managers.push(manager);
  const cluster = plan.outbound.cluster(HTTPBIN_CLUSTER);
  if (cluster === null) throw new Error('no httpbin cluster');
  const upstream = manager.get(cluster);
  const bad = upstream.hosts().find((h) => h.endpoint.address === '10.0.0.1');
  if (bad === undefined) throw new Error('no 10.0.0.1');
  upstream.record(bad, { kind: 'response', status: 502 });
  return { manager, clock, upstream };
}

describe('createAdminServer', () => {
  it('reports an ejected endpoint as /failed_outlier_check in Envoy text /clusters and the other as healthy', async () => {
    const plan = httpbinPlan();
    const { manager, clock } = managerWithEjectedHost(plan);
    const { get } = await start({ clusters: manager }, plan);
    const text = await (await get('/clusters')).text();
    expect(text).toContain(`${HTTPBIN_CLUSTER}::10.0.0.1:8080::health_flags::/failed_outlier_check\n`);
    expect(text).toContain(`${HTTPBIN_CLUSTER}::10.0.0.2:8080::health_flags::healthy\n`);
    expect(text).toContain(`${HTTPBIN_CLUSTER}::10.0.0.2:8080::rq_active::0\n`);
    // The DestinationRule's connectionPool is the cluster's circuit breaker.
    expect(text).toContain(`${HTTPBIN_CLUSTER}::default_priority::max_connections::1\n`);
    expect(text).toContain(`${HTTPBIN_CLUSTER}::default_priority::max_pending_requests::1\n`);

    // baseEjectionTime 3m: after it the host is back, and /clusters says so.
    await clock.advance(180_000);
    const later = await (await get('/clusters')).text();
    expect(later).toContain(`${HTTPBIN_CLUSTER}::10.0.0.1:8080::health_flags::healthy\n`);
  });

  it('serves /clusters?format=json with failed_outlier_check and the cluster counters', async () => {
    const plan = httpbinPlan();
    const { manager } = managerWithEjectedHost(plan);
    const { get } = await start({ clusters: manager }, plan);
    const res = await get('/clusters?format=json');
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { cluster_statuses: ClusterStatus[] };
    const c = body.cluster_statuses.find((s) => s.name === HTTPBIN_CLUSTER);
    expect(
      c?.host_statuses.map((h) => [h.address.socket_address.address, h.health_status.failed_outlier_check]),
    ).toEqual([
      ['10.0.0.1', true],
      ['10.0.0.2', false],
    ]);
    expect(c?.meshlet_stats).toMatchObject({ ejectionsTotal: 1, ejectedNow: 1 });
  });

  it('lists plan endpoints as healthy for a cluster no request has used, without creating runtime state', async () => {
    const plan = httpbinPlan();
    const manager = createClusterManager({ clock: createManualClock(), random: seededRandom(1) });
    managers.push(manager);
    const { get } = await start({ clusters: manager }, plan);
    const text = await (await get('/clusters')).text();
    expect(text).toContain(`${HTTPBIN_CLUSTER}::10.0.0.1:8080::health_flags::healthy`);
    expect(text).not.toContain('rq_active');
    expect(manager.stats(HTTPBIN_CLUSTER)).toBeNull();
  });

  it('dumps the active plan with routes as describe() strings, cluster policies, inbound policies and the config hash', async () => {
    const { get } = await start({}, bookinfoPlan());
    const res = await get('/config_dump');
    expect(res.status).toBe(200);
    const dump = (await res.json()) as ConfigDump;
    expect(dump).toMatchObject({
      configHash: CONFIG.hash,
      loadedAt: CONFIG.loadedAt,
      files: CONFIG.files,
      sidecar: null,
    });
    const reviews = dump.virtualHosts.find((v) => v.host === 'reviews.default.svc.cluster.local');
    expect(reviews?.virtualService).toBe('reviews.default');
    expect(reviews?.routes.map((r) => r.match)).toEqual([['header end-user exact "jason"'], []]);
    expect(reviews?.routes[0]?.action).toMatchObject({
      kind: 'route',
      destinations: [
        { subset: 'v2', weight: 100, cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local' },
      ],
    });
    expect(reviews?.routes[0]?.retries).toMatchObject({ retries: 2 });
    const v2 = dump.clusters.find((c) => c.name === 'outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(v2).toMatchObject({
      subset: 'v2',
      type: 'EDS',
      destinationRules: ['reviews.default'],
      subsetLabels: { version: 'v2' },
      policy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
    });
    expect(v2?.endpoints.map((e) => e.address)).toEqual(['10.1.0.2']);
    expect(dump.inbound.peerAuthentication.mode).toBe('PERMISSIVE');
    expect(dump.routeTable.virtualHosts.length).toBe(dump.virtualHosts.length);
  });

  it('answers /ready with 200 LIVE, and 503 while isReady is false or after POST /healthcheck/fail', async () => {
    let ready = false;
    const { get, url } = await start({ isReady: () => ready });
    const before = await get('/ready');
    expect([before.status, (await before.text()).trim()]).toEqual([503, 'INITIALIZING']);
    ready = true;
    const live = await get('/ready');
    expect([live.status, (await live.text()).trim()]).toEqual([200, 'LIVE']);

    const viaGet = await get('/healthcheck/fail');
    expect(viaGet.status).toBe(400);
    expect((await get('/ready')).status).toBe(200);
    expect((await fetch(url('/healthcheck/fail'), { method: 'POST' })).status).toBe(200);
    const draining = await get('/ready');
    expect([draining.status, (await draining.text()).trim()]).toEqual([503, 'DRAINING']);
    await fetch(url('/healthcheck/ok'), { method: 'POST' });
    expect((await get('/ready')).status).toBe(200);
  });

  it('reports version, state, uptime and the workload as node in /server_info', async () => {
    const { get } = await start({ now: () => 1_000_000 + 125_400 });
    const info = (await (await get('/server_info')).json()) as ServerInfo;
    expect(info).toMatchObject({
      version: '0.1.0',
      state: 'LIVE',
      uptime_current_epoch: '125s',
      node: {
        id: 'sleep.default',
        cluster: 'sleep.default',
        metadata: { NAMESPACE: 'default', SERVICE_ACCOUNT: 'sleep', CONFIG_HASH: CONFIG.hash },
      },
    });
  });

  it('exposes the registry in Prometheus text format 0.0.4', async () => {
    const registry = new Registry();
    const c = new Counter({
      name: 'istio_requests_total',
      help: 'requests',
      labelNames: ['reporter'],
      registers: [registry],
    });
    c.inc({ reporter: 'source' }, 3);
    const { get } = await start({ registry });
    const res = await get('/stats/prometheus');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('istio_requests_total{reporter="source"} 3');
  });

  it('answers an unknown path with 404 and the list of endpoints', async () => {
    const { get } = await start();
    const res = await get('/nope');
    expect(res.status).toBe(404);
    const body = await res.text();
    for (const p of ['/clusters', '/config_dump', '/ready', '/server_info', '/stats/prometheus'])
      expect(body).toContain(`  ${p}: `);
  });

  it('turns a failing getPlan into a 500 for that request and keeps serving', async () => {
    const { get } = await start({
      getPlan: () => {
        throw new Error('plan exploded');
      },
    });
    const res = await get('/config_dump');
    expect([res.status, await res.text()]).toEqual([500, 'admin error: plan exploded\n']);
    expect((await get('/ready')).status).toBe(200);
  });

  it('binds to loopback by default and rejects listen when the port is taken', async () => {
    const { port } = await start();
    const other = createAdminServer({
      getPlan: () => httpbinPlan(),
      getConfig: () => CONFIG,
      serverInfo: { version: '0.1.0', workload: SLEEP, startedAt: 0 },
      port,
    });
    await expect(other.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await other.close();
    // Bound to 127.0.0.1 only: another socket can take the same port on 127.0.0.2, which a
    // wildcard (0.0.0.0) bind would have made impossible.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.2', () => resolve());
    });
    await new Promise<void>((r) => probe.close(() => r()));
  });

  it('closes cleanly and idempotently, refusing connections afterwards', async () => {
    const { server, get } = await start();
    expect((await get('/ready')).status).toBe(200);
    await server.close();
    await server.close();
    await expect(get('/ready')).rejects.toThrow();
  });
});
