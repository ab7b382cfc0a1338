import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh } from '../../src/testing/index.js';
import { localRateLimitYaml } from '../helpers/local-rate-limit.js';

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

async function mock(config?: string): Promise<MockMesh> {
  const mm = await createMockMesh(config === undefined ? {} : { config });
  open.push(mm);
  return mm;
}

describe('mock mesh: what tests lean on', () => {
  it("refills the local rate limit's token bucket in virtual time (istio.io rate-limit task: 4 per 60 s)", async () => {
    const mm = await mock(localRateLimitYaml());
    mm.service('httpbin', { namespace: 'foo', port: 8000 }, () => ({ status: 200 }));
    const sleep = mm.workload({ namespace: 'foo', serviceAccount: 'sleep' });
    const burst = async () => {
      const out: number[] = [];
      for (let i = 0; i < 5; i++) out.push((await sleep.fetch('http://httpbin:8000/')).status);
      return out;
    };
    expect(await burst()).toEqual([200, 200, 200, 200, 429]);
    const limited = await sleep.fetch('http://httpbin:8000/');
    expect(await limited.text()).toBe('local_rate_limited');
    expect(limited.headers.get('x-local-rate-limit')).toBe('true');
    await mm.clock.advance(60_000);
    expect(await burst()).toEqual([200, 200, 200, 200, 429]);
  });

  it("rejects a call past the caller's own timeout on virtual time, and logs it with no status", async () => {
    const mm = await mock();
    mm.service('slow', { port: 8080 }, async () => {
      await mm.clock.sleep(5_000);
      return { status: 200 };
    });
    const client = mm.workload({ serviceAccount: 'client' });
    const err = await client.fetch('http://slow:8080/', { timeout: 1_500 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MESHLET_ERR_OUTBOUND_TIMEOUT' });
    expect(mm.clock.now()).toBe(1_500);
    expect(mm.log).toMatchObject([
      { source: 'default/client', status: null, duration: 1_500, error: expect.stringContaining('1500 ms') },
    ]);
  });

  it('does not let virtual time pass while a handler does real work of its own, and still times out a handler that never answers', async () => {
    const mm = await mock(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db }
spec:
  hosts: [db]
  http: [{ route: [{ destination: { host: db } }], timeout: 1s }]
`);
    let hang = false;
    mm.service('db', { port: 5000 }, async () => {
      if (hang) await new Promise(() => {});
      // Real work: a real timer, as a database client or a file read would wait.
      await new Promise((resolve) => setTimeout(resolve, 40));
      return { status: 200, body: 'rows' };
    });
    const app = mm.workload({ serviceAccount: 'app' });
    const res = await app.fetch('http://db:5000/');
    expect([res.status, await res.text(), mm.clock.now()]).toEqual([200, 'rows', 0]);
    hang = true;
    const wall = performance.now();
    const hung = await app.fetch('http://db:5000/');
    expect([hung.status, hung.meshlet.flags, mm.clock.now()]).toEqual([504, ['UT'], 1_000]);
    // The clock waited its grace in real time for the handler before moving on.
    expect(performance.now() - wall).toBeGreaterThanOrEqual(200);
  });

  it('answers 500 for a handler that throws, as a Node server does, and retries it when the route says so', async () => {
    const mm = await mock(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky }
spec:
  hosts: [flaky]
  http: [{ route: [{ destination: { host: flaky } }], retries: { attempts: 1, retryOn: 5xx } }]
`);
    let calls = 0;
    mm.service('flaky', { port: 8080 }, () => {
      calls++;
      throw new Error('boom');
    });
    const res = await mm.workload({ serviceAccount: 'client' }).fetch('http://flaky:8080/');
    expect([res.status, await res.text(), res.meshlet.attempts, calls]).toEqual([500, 'boom', 2, 2]);
  });

  it('hands a handler the body as text and as bytes', async () => {
    const mm = await mock();
    mm.service('upload', { port: 8080 }, (req) => ({
      status: 200,
      body: { text: req.body, bytes: [...req.rawBody], type: req.headers['content-type'] },
    }));
    const bytes = Buffer.from([0xff, 0x00, 0x41]);
    const res = await mm.workload({ serviceAccount: 'client' }).fetch('http://upload:8080/', {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(await res.json()).toEqual({
      text: bytes.toString('utf8'),
      bytes: [0xff, 0x00, 0x41],
      type: 'application/octet-stream',
    });
    // A client without a sidecar sends every body kind too: a stream, a Uint8Array.
    const legacy = mm.workload({ serviceAccount: 'legacy', mesh: false });
    const streamed = await legacy.fetch('http://upload:8080/', {
      method: 'POST',
      body: Readable.from([Buffer.from('str'), Buffer.from('eam')]),
    });
    expect(await streamed.json()).toMatchObject({ text: 'stream' });
    const typed = await legacy.fetch('http://upload:8080/', {
      method: 'POST',
      body: new Uint8Array([0x68, 0x69]),
    });
    expect(await typed.json()).toMatchObject({ text: 'hi' });
  });

  it('says a pod without a sidecar has no mesh, and names it', async () => {
    const mm = await mock();
    const legacy = mm.workload({ namespace: 'legacy', serviceAccount: 'sleep', mesh: false });
    await expect(legacy.mesh()).rejects.toMatchObject({
      code: 'MESHLET_ERR_MESH_OPTIONS',
      message: expect.stringContaining('legacy/sleep'),
    });
    // Calling a service nobody serves fails as DNS would, for a client without a sidecar.
    await expect(legacy.fetch('http://nowhere:80/')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('refuses a bad workload name or a taken address when the pod is declared, naming the problem', async () => {
    const mm = await mock();
    expect(() => mm.workload({ namespace: 'Not_A_Label', serviceAccount: 'x' })).toThrow(
      expect.objectContaining({
        code: 'MESHLET_ERR_CONFIG_WORKLOAD',
        message: expect.stringContaining('namespace'),
      }),
    );
    mm.service('a', { address: '10.9.9.9', port: 80 }, () => ({ status: 200 }));
    expect(() => mm.service('b', { address: '10.9.9.9', port: 80 }, () => ({ status: 200 }))).toThrow(
      expect.objectContaining({
        code: 'MESHLET_ERR_MESH_OPTIONS',
        message: expect.stringContaining('default/a'),
      }),
    );
  });

  it("compiles every pod's plan with the istiod feature flags given, else the environment's", async () => {
    const flagged = await createMockMesh({ istiodFeatures: { enableMultipleCustomAuthzProviders: true } });
    open.push(flagged);
    const plain = await mock();
    const planOf = async (mm: MockMesh) =>
      (await mm.service('svc', { port: 80 }, () => ({ status: 200 })).mesh()).plan.inbound;
    expect((await planOf(flagged)).multipleCustomAuthzProviders).toBe(true);
    expect((await planOf(plain)).multipleCustomAuthzProviders).toBe(false);
  });

  it('refuses new workloads once closed', async () => {
    const mm = await mock();
    await mm.close();
    await expect(mm.workload({ serviceAccount: 'late' }).fetch('http://x:80/')).rejects.toMatchObject({
      code: 'MESHLET_ERR_MESH_CLOSED',
    });
  });
});
