import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import {
  HELLOWORLD_FAILOVER,
  helloworldService,
  SLEEP_IN_ZONE1,
  useZonePods,
} from '../../packages/core/test/helpers/helloworld.js';

// istio.io tasks/traffic-management/locality-load-balancing/failover, with real loopback
// servers and the real transport: the caller in region1/zone1, helloworld in region1/zone1,
// region1/zone2 and region2/zone3, a DestinationRule with outlierDetection and
// `failover: [{ from: region1, to: region2 }]`. While the local pod is healthy every call stays
// in the caller's zone; once it fails and is ejected, calls go to the same region's other zone.

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const pod = useZonePods();

const CONFIG = HELLOWORLD_FAILOVER;

/** The caller in region1/zone1 with helloworld's pods at `zones`. */
async function meshFor(config: string, zones: readonly (readonly [string, number])[]): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config);
  const mesh = await createMesh({
    config: dir,
    workload: SLEEP_IN_ZONE1,
    endpoints: {
      'helloworld.sample.svc.cluster.local': zones.map(([locality, port]) => ({
        address: '127.0.0.1',
        port,
        labels: { app: 'helloworld' },
        locality,
      })),
    },
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

describe('locality failover (istio.io locality-load-balancing/failover)', () => {
  it('keeps calls in the caller zone, then fails over to the next zone when the local pod is ejected', async () => {
    const local = { failing: false };
    const zones = [
      ['region1/zone1', await pod('region1/zone1', local)],
      ['region1/zone2', await pod('region1/zone2', { failing: false })],
      ['region2/zone3', await pod('region2/zone3', { failing: false })],
    ] as const;
    const mesh = await meshFor(CONFIG, zones);

    const call = async () => {
      const res = await mesh.fetch('http://helloworld.sample:5000/hello');
      return `${res.status} ${await res.text()}`;
    };
    const healthy = [];
    for (let i = 0; i < 12; i++) healthy.push(await call());
    expect(new Set(healthy)).toEqual(new Set(['200 region1/zone1']));

    local.failing = true;
    expect(await call()).toBe('503 region1/zone1'); // the 5xx that ejects it
    const after = [];
    for (let i = 0; i < 12; i++) after.push(await call());
    expect(new Set(after)).toEqual(new Set(['200 region1/zone2']));
  });

  it('keeps every call in the caller zone for a Service with trafficDistribution: PreferClose, no DestinationRule', async () => {
    const zones = [
      ['region1/zone1', await pod('region1/zone1', { failing: false })],
      ['region1/zone2', await pod('region1/zone2', { failing: false })],
      ['region2/zone3', await pod('region2/zone3', { failing: false })],
    ] as const;
    const service = helloworldService('  trafficDistribution: PreferClose\n');
    const mesh = await meshFor(service, zones);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++)
      seen.add(await (await mesh.fetch('http://helloworld.sample:5000/hello')).text());
    expect(seen).toEqual(new Set(['region1/zone1']));
  });
});
