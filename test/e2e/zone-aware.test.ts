import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, seededRandom, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import {
  helloworldService,
  SLEEP_IN_ZONE1,
  useZonePods,
} from '../../packages/core/test/helpers/helloworld.js';

// Istio 1.31's zoneAwareLbSetting with self-discovery (pilot-agent
// ISTIO_META_ENABLE_SELF_DISCOVERY): the caller's own service endpoints in its region are
// Envoy's local_cluster, and Envoy's zone-aware routing (load_balancer_impl.cc
// ZoneAwareLoadBalancerBase) keeps calls in the caller's zone while that zone has at least
// the local cluster's share of upstream hosts, and spills the excess by residual capacity
// when it has less. Real loopback servers, the real transport.

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const pod = useZonePods();

const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    defaultConfig:
      proxyMetadata:
        ISTIO_META_ENABLE_SELF_DISCOVERY: "true"
---
${helloworldService()}---
apiVersion: v1
kind: Service
metadata: { name: sleep, namespace: sample }
spec:
  selector: { app: sleep }
  ports: [{ name: http, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      zoneAwareLbSetting: { enabled: true }
`;

/**
 * The caller in region1/zone1; helloworld with two pods in each of region1's three zones (six
 * hosts: Envoy's min_cluster_size); the caller's own service with pods at `sleepZones`.
 */
async function meshFor(sleepZones: readonly string[]): Promise<Mesh> {
  const helloworld: { address: string; port: number; labels: Record<string, string>; locality: string }[] =
    [];
  for (const zone of ['region1/zone1', 'region1/zone2', 'region1/zone3'])
    for (let i = 0; i < 2; i++)
      helloworld.push({
        address: '127.0.0.1',
        port: await pod(zone),
        labels: { app: 'helloworld' },
        locality: zone,
      });
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), CONFIG);
  const mesh = await createMesh({
    config: dir,
    random: seededRandom(7),
    workload: SLEEP_IN_ZONE1,
    endpoints: {
      'helloworld.sample.svc.cluster.local': helloworld,
      'sleep.sample.svc.cluster.local': sleepZones.map((locality, i) => ({
        address: `10.0.0.${i + 1}`,
        port: 80,
        labels: { app: 'sleep' },
        locality,
      })),
    },
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

async function zonesOf(mesh: Mesh, calls: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const zone = await (await mesh.fetch('http://helloworld.sample:5000/hello')).text();
    seen.set(zone, (seen.get(zone) ?? 0) + 1);
  }
  return seen;
}

describe('zone-aware load balancing (zoneAwareLbSetting, self-discovery)', () => {
  it("keeps every call in the caller's zone when it holds at least the callers' share of hosts", async () => {
    // The local cluster is spread like the upstream: a third in each zone.
    const mesh = await meshFor(['region1/zone1', 'region1/zone2', 'region1/zone3']);
    expect(await zonesOf(mesh, 30)).toEqual(new Map([['region1/zone1', 30]]));
  });

  it('spills the calls its zone cannot take to the other zones when most callers sit in it', async () => {
    // Three of five callers in zone1 (60 %) against a third of the upstream there: Envoy keeps
    // 33.3/60 = 55.5 % of the calls local and sends the rest to zones 2 and 3, which have
    // residual capacity (each holds 33.3 % of the upstream for 20 % of the callers).
    const mesh = await meshFor([
      'region1/zone1',
      'region1/zone1',
      'region1/zone1',
      'region1/zone2',
      'region1/zone3',
    ]);
    const seen = await zonesOf(mesh, 400);
    const local = (seen.get('region1/zone1') ?? 0) / 400;
    expect(local).toBeGreaterThan(0.45);
    expect(local).toBeLessThan(0.65);
    expect(seen.get('region1/zone2') ?? 0).toBeGreaterThan(50);
    expect(seen.get('region1/zone3') ?? 0).toBeGreaterThan(50);
  });
});
