import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh } from '../../src/testing/index.js';
import { HELLOWORLD_FAILOVER } from '../helpers/helloworld.js';

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

// istio.io tasks/traffic-management/locality-load-balancing/failover on the mock mesh.
const FAILOVER = HELLOWORLD_FAILOVER;

describe('mock mesh: locality failover task', () => {
  it('keeps calls in the caller zone, fails over zone by zone as pods fail, and comes back after the ejection', async () => {
    const mm = await createMockMesh({ config: FAILOVER });
    open.push(mm);
    const failing = new Set<string>();
    for (const zone of ['region1/zone1', 'region1/zone2', 'region2/zone3']) {
      mm.service(
        'helloworld',
        { namespace: 'sample', port: 5000, locality: zone, name: `helloworld-${zone.split('/')[1]}` },
        () => ({
          status: failing.has(zone) ? 503 : 200,
          body: zone,
        }),
      );
    }
    const sleep = mm.workload({ namespace: 'sample', serviceAccount: 'sleep', locality: 'region1/zone1' });
    const call = async () => {
      const r = await sleep.fetch('http://helloworld.sample:5000/hello');
      return `${r.status} ${await r.text()}`;
    };
    expect([await call(), await call(), await call()]).toEqual(Array(3).fill('200 region1/zone1'));
    failing.add('region1/zone1');
    expect(await call()).toBe('503 region1/zone1');
    expect([await call(), await call()]).toEqual(Array(2).fill('200 region1/zone2'));
    failing.add('region1/zone2');
    expect(await call()).toBe('503 region1/zone2');
    expect([await call(), await call()]).toEqual(Array(2).fill('200 region2/zone3'));
    failing.clear();
    // A minute of virtual time later both ejections have ended: back home.
    await mm.clock.advance(61_000);
    expect(await call()).toBe('200 region1/zone1');
  });
});
