import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh } from '../../src/testing/index.js';

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

describe('mock mesh: the destination reports response flags as a sidecar does', () => {
  it('a response the handler completes has none (no DC), at every size', async () => {
    const mm = await createMockMesh({ seed: 1 });
    open.push(mm);
    const big = 'x'.repeat(256 * 1024);
    mm.service('echo', { port: 8080 }, (req) => ({ status: 200, body: req.path === '/big' ? big : 'ok' }));
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    for (const p of ['/small', '/big']) {
      const r = await sleep.fetch(`http://echo:8080${p}`);
      expect((await r.text()).length).toBe(p === '/big' ? big.length : 2);
    }
    expect(await mm.metric('istio_requests_total', { reporter: 'destination', response_flags: '-' })).toBe(2);
  });
});
