import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import type { MeshPlan } from '../../src/compile/plan-types.js';
import { runProxyConfig } from '../../src/cli/proxy-config.js';
import { createClusterManager } from '../../src/outbound/upstream/cluster-manager.js';
import type { ClusterManager } from '../../src/outbound/upstream/types.js';
import { createManualClock } from '../../src/runtime/clock.js';
import { seededRandom } from '../../src/runtime/random.js';
import { bookinfoPlan, HTTPBIN_CLUSTER, httpbinPlan, PRODUCTPAGE } from '../admin/support.js';
import { captureIO } from './support.js';

const servers: AdminServer[] = [];
const managers: ClusterManager[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const m of managers.splice(0)) m.close();
});

async function adminFor(plan: MeshPlan, clusters?: ClusterManager): Promise<string> {
  const s = createAdminServer({
    getPlan: () => plan,
    getConfig: () => ({ hash: '0123456789abcdef', loadedAt: Date.now(), files: [] }),
    serverInfo: { version: '0.1.0', workload: PRODUCTPAGE, startedAt: Date.now() },
    ...(clusters === undefined ? {} : { clusters }),
  });
  servers.push(s);
  return `http://127.0.0.1:${(await s.listen()).port}`;
}

const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

describe('meshlet proxy-config', () => {
  it('prints routes with istioctl columns from /config_dump, in match order', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['routes', await adminFor(bookinfoPlan())], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^NAME\s+VHOST NAME\s+DOMAINS\s+MATCH\s+DESTINATION\s+TIMEOUT\s+RETRIES\s+FAULT\s+VIRTUAL SERVICE$/,
    );
    const reviews = lines.filter((l) => l.includes('reviews.default:9080 '));
    expect(reviews[0]).toMatch(
      /^9080\s+reviews\.default:9080\s+reviews \+ \d+ more\.\.\.\s+header end-user exact "jason"\s+reviews\.default:9080\|v2 100%.*reviews\.default$/,
    );
    expect(reviews[1]).toMatch(/\/\*\s+reviews\.default:9080\|v3 100%/);
    expect(lines.at(-1)).toMatch(/^\*\s+fallback\s+\*\s+\/\*\s+PassthroughCluster/);
  });

  it('prints clusters with SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['clusters', await adminFor(bookinfoPlan())], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE$/);
    const reviews = lines.filter((l) => l.startsWith('reviews.default.svc.cluster.local '));
    expect(reviews.map((l) => l.split(/\s+/).slice(1).join(' '))).toEqual([
      '9080 - outbound EDS reviews.default',
      '9080 v1 outbound EDS reviews.default',
      '9080 v2 outbound EDS reviews.default',
      '9080 v3 outbound EDS reviews.default',
    ]);
    expect(lines).toContainEqual(expect.stringMatching(/^BlackHoleCluster\s+-\s+-\s+-\s+STATIC\s+-$/));
  });

  it('prints endpoints HEALTHY with OUTLIER CHECK OK when the cluster has no outlierDetection', async () => {
    const plan = bookinfoPlan();
    const manager = createClusterManager({ clock: createManualClock(), random: seededRandom(3) });
    managers.push(manager);
    // reviews has no outlierDetection in destination-rule-all.yaml: a host is never ejected there.
    const upstream = manager.get(plan.outbound.cluster(V2)!);
    upstream.record(upstream.hosts()[0]!, { kind: 'response', status: 503 });
    const io = captureIO();
    expect(await runProxyConfig(['endpoints', await adminFor(plan, manager)], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ENDPOINT\s+STATUS\s+OUTLIER CHECK\s+CLUSTER$/);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^10\\.1\\.0\\.2:9080\\s+HEALTHY\\s+OK\\s+${V2.replace(/\|/g, '\\|')}$`),
      ),
    );
  });

  it('reports OUTLIER CHECK FAILED while outlier detection holds a host out (Istio circuit-breaking task)', async () => {
    const plan = httpbinPlan();
    const manager = createClusterManager({ clock: createManualClock(), random: seededRandom(3) });
    managers.push(manager);
    const upstream = manager.get(plan.outbound.cluster(HTTPBIN_CLUSTER)!);
    upstream.record(upstream.hosts()[0]!, { kind: 'response', status: 502 });
    const io = captureIO();
    expect(await runProxyConfig(['endpoints', await adminFor(plan, manager)], io)).toBe(0);
    const rows = io
      .out()
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/));
    expect(rows).toEqual([
      ['10.0.0.1:8080', 'HEALTHY', 'FAILED', HTTPBIN_CLUSTER],
      ['10.0.0.2:8080', 'HEALTHY', 'OK', HTTPBIN_CLUSTER],
    ]);
  });

  it('exits 1 naming the URL when the admin server cannot be reached', async () => {
    const url = await adminFor(bookinfoPlan());
    await servers[0]!.close();
    const io = captureIO();
    expect(await runProxyConfig(['clusters', url], io)).toBe(1);
    expect(io.err()).toContain(`cannot read ${url}`);
  });

  it('exits 64 for an unknown type', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['listeners', 'http://127.0.0.1:1'], io)).toBe(64);
    expect(io.err()).toContain('give a type: routes, clusters, endpoints');
  });
});
