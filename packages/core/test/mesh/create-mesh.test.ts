import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isMeshletError, type MeshletError } from '../../src/errors/meshlet-error.js';
import { createMesh } from '../../src/mesh/create-mesh.js';
import type { Mesh, MeshRejectedEvent, MeshReloadEvent } from '../../src/mesh/types.js';
import { createMemoryTransport } from '../../src/outbound/transports/memory-transport.js';
import { useTmpDir } from '../helpers/tmp.js';
import { httpServer, until } from '../outbound/transports/support/servers.js';
import { copySamples, reviewsServer, type ReviewsServer } from './support.js';

const WORKLOAD = {
  name: 'productpage-v1-abc',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};

describe('createMesh', () => {
  const tmp = useTmpDir();
  const open: (Mesh | ReviewsServer)[] = [];
  let servers: Record<'v1' | 'v2' | 'v3', ReviewsServer>;

  beforeEach(async () => {
    vi.stubEnv('MESHLET_CONFIG', '');
    servers = { v1: await reviewsServer('v1'), v2: await reviewsServer('v2'), v3: await reviewsServer('v3') };
    open.push(...Object.values(servers));
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    for (const o of open.splice(0).reverse()) await o.close();
  });

  const endpoints = () => ({
    reviews: (['v1', 'v2', 'v3'] as const).map((v) => ({
      address: '127.0.0.1',
      port: servers[v].port,
      labels: { app: 'reviews', version: v },
    })),
  });

  /** Bookinfo's Services and DestinationRules plus one reviews VirtualService, in a watched temp dir. */
  async function bookinfo(vs: string): Promise<string> {
    const dir = await tmp();
    await copySamples(dir, {
      'bookinfo.yaml': 'bookinfo-platform/bookinfo.yaml',
      'destination-rule-all.yaml': 'bookinfo-networking/destination-rule-all.yaml',
      'reviews-vs.yaml': `bookinfo-networking/${vs}`,
    });
    return dir;
  }

  async function start(
    config: string | undefined,
    extra: Parameters<typeof createMesh>[0] = {},
  ): Promise<Mesh> {
    const mesh = await createMesh({
      ...(config !== undefined ? { config } : {}),
      workload: WORKLOAD,
      endpoints: endpoints(),
      debounceMs: 10,
      ...extra,
    });
    open.push(mesh);
    return mesh;
  }

  it('routes mesh.fetch by the VirtualService to the subset endpoint on a loopback server', async () => {
    const mesh = await start(await bookinfo('virtual-service-reviews-v3.yaml'));
    const res = await mesh.fetch('http://reviews:9080/reviews/0');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: 'v3', path: '/reviews/0', user: null });
    expect(res.meshlet.upstream?.subset).toBe('v3');
    expect(res.meshlet.upstream?.address).toBe(`127.0.0.1:${servers.v3.port}`);
    expect(res.meshlet.route).toMatch(/^default\/reviews\//);
    expect(servers.v1.hits + servers.v2.hits).toBe(0);
  });

  it('follows mesh routing from mesh.got, header match included', async () => {
    const mesh = await start(await bookinfo('virtual-service-reviews-test-v2.yaml'));
    expect(await mesh.got('http://reviews:9080/reviews/1').json()).toEqual({
      version: 'v1',
      path: '/reviews/1',
      user: null,
    });
    const jason = await mesh.got('http://reviews:9080/reviews/2', { headers: { 'end-user': 'jason' } });
    expect(JSON.parse(jason.body)).toEqual({ version: 'v2', path: '/reviews/2', user: 'jason' });
    expect((jason as unknown as { meshlet: { upstream: { subset: string } } }).meshlet.upstream.subset).toBe(
      'v2',
    );
  });

  it('runs mesh.got over either transport (undici hands over a stream got must not end)', async () => {
    for (const transport of ['got', 'undici'] as const) {
      const mesh = await start(await bookinfo('virtual-service-reviews-test-v2.yaml'), { transport });
      const res = await mesh.got('http://reviews:9080/reviews/3', { headers: { 'end-user': 'jason' } });
      expect([transport, JSON.parse(res.body)]).toEqual([
        transport,
        { version: 'v2', path: '/reviews/3', user: 'jason' },
      ]);
    }
  });

  it('sends a got json body and returns an upstream error status as got would', async () => {
    const echo = await httpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(req.url === '/fail' ? 418 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ got: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      });
    });
    open.push(echo as unknown as ReviewsServer);
    const mesh = await start(undefined);
    const ok = await mesh.got.post(`http://127.0.0.1:${echo.port}/x`, { json: { a: 1 } }).json();
    expect(ok).toEqual({ got: { a: 1 } });
    const err = await mesh.got(`http://127.0.0.1:${echo.port}/fail`).catch((e: unknown) => e);
    expect((err as { response: { statusCode: number } }).response.statusCode).toBe(418);
  });

  it('passes calls straight through when there is no config', async () => {
    const mesh = await start(undefined);
    expect(mesh.snapshot.resources).toHaveLength(0);
    const res = await mesh.fetch(`http://127.0.0.1:${servers.v2.port}/direct`);
    expect(await res.json()).toMatchObject({ version: 'v2', path: '/direct' });
    expect(servers.v2.hits).toBe(1);
    expect(res.meshlet.flags).toEqual([]);
  });

  it('reads the config location from MESHLET_CONFIG when no config option is given', async () => {
    vi.stubEnv('MESHLET_CONFIG', await bookinfo('virtual-service-reviews-v3.yaml'));
    const mesh = await start(undefined);
    expect(await (await mesh.fetch('http://reviews:9080/')).json()).toMatchObject({ version: 'v3' });
  });

  it('finishes an in-flight call on its plan while a reload swaps the plan for new calls', async () => {
    const dir = await bookinfo('virtual-service-reviews-v3.yaml');
    const mesh = await start(dir);
    const before = mesh.plan;
    servers.v3.hold();
    const arrived = servers.v3.arrived();
    const inFlight = mesh.fetch('http://reviews:9080/slow');
    await arrived;

    const reloaded = new Promise<MeshReloadEvent>((r) => mesh.on('reload', r));
    await copySamples(dir, { 'reviews-vs.yaml': 'bookinfo-networking/virtual-service-reviews-test-v2.yaml' });
    const event = await reloaded;
    expect(event.previous).toBe(before);
    expect(mesh.plan).toBe(event.plan);
    expect(mesh.plan).not.toBe(before);

    expect(await (await mesh.fetch('http://reviews:9080/new')).json()).toMatchObject({ version: 'v1' });
    servers.v3.release();
    const old = await inFlight;
    expect(await old.json()).toMatchObject({ version: 'v3', path: '/slow' });
    expect(old.meshlet.upstream?.subset).toBe('v3');
  });

  it('keeps the last good plan and emits rejected when a reload is invalid', async () => {
    const dir = await bookinfo('virtual-service-reviews-v3.yaml');
    const mesh = await start(dir);
    const good = mesh.plan;
    const rejected = new Promise<MeshRejectedEvent>((r) => mesh.on('rejected', r));
    await writeFile(
      path.join(dir, 'reviews-vs.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - timeout: 3\n    route:\n    - destination:\n        host: reviews\n',
    );
    const event = await rejected;
    expect(event.reasons.length).toBeGreaterThan(0);
    expect(event.diagnostics.some((d) => d.level === 'Error' && d.file?.endsWith('reviews-vs.yaml'))).toBe(
      true,
    );
    expect(mesh.plan).toBe(good);
    expect(await (await mesh.fetch('http://reviews:9080/')).json()).toMatchObject({ version: 'v3' });
  });

  it('rejects at start with MESHLET_ERR_CONFIG_INVALID listing file, line and field', async () => {
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'bad.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - retries:\n      attempts: 3\n      perTryTimeout: "3"\n    route:\n    - destination:\n        host: reviews\n',
    );
    const err = (await createMesh({ config: dir, workload: WORKLOAD }).catch(
      (e: unknown) => e,
    )) as MeshletError;
    expect(isMeshletError(err)).toBe(true);
    expect(err.code).toBe('MESHLET_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(/bad\.yaml:10:\d+ spec\.http\[0\]\.retries\.perTryTimeout/);
    expect((err.details['diagnostics'] as unknown[]).length).toBeGreaterThan(0);
  });

  it('rejects an unusable transport option with MESHLET_ERR_MESH_OPTIONS', async () => {
    const err = (await createMesh({
      workload: WORKLOAD,
      transport: 'curl' as unknown as 'got',
    }).catch((e: unknown) => e)) as MeshletError;
    expect(err.code).toBe('MESHLET_ERR_MESH_OPTIONS');
    expect(err.message).toContain('curl');
  });

  it('rejects credentials that are neither a directory nor a map of directories', async () => {
    for (const credentials of [42, '', { 'client-credential': 7 }, ['/etc/creds']]) {
      const err = (await createMesh({
        workload: WORKLOAD,
        credentials: credentials as unknown as string,
      }).catch((e: unknown) => e)) as MeshletError;
      expect(err.code).toBe('MESHLET_ERR_MESH_OPTIONS');
      expect(err.details['option']).toBe('credentials');
    }
  });

  it('sends through the undici transport or a given Transport when asked', async () => {
    const viaUndici = await start(await bookinfo('virtual-service-reviews-v3.yaml'), { transport: 'undici' });
    expect(await (await viaUndici.fetch('http://reviews:9080/')).json()).toMatchObject({ version: 'v3' });

    const memory = createMemoryTransport({
      [`127.0.0.1:${servers.v1.port}`]: () => ({ status: 200, body: 'from memory' }),
    });
    const viaMemory = await start(await bookinfo('virtual-service-reviews-test-v2.yaml'), {
      transport: memory,
    });
    expect(await (await viaMemory.fetch('http://reviews:9080/')).text()).toBe('from memory');
    expect(servers.v1.hits).toBe(0);
    await viaMemory.close();
    // A given transport stays the caller's: still open after mesh.close().
    const still = await memory.request({
      url: new URL(`http://127.0.0.1:${servers.v1.port}/`),
      method: 'GET',
      headers: {},
      body: null,
      signal: null,
      connectTimeoutMs: 1000,
      tls: null,
      poolKey: 'k',
      pool: { maxConnections: 1, maxRequestsPerConnection: 0, idleTimeoutMs: 0 },
    });
    expect(still.status).toBe(200);
  });

  it('closes idempotently, leaves no upstream connection open, and refuses calls afterwards', async () => {
    const mesh = await start(await bookinfo('virtual-service-reviews-v3.yaml'));
    await (await mesh.fetch('http://reviews:9080/')).text();
    expect(servers.v3.open()).toBe(1);
    await Promise.all([mesh.close(), mesh.close()]);
    await until(() => servers.v3.open() === 0);
    const err = (await mesh.fetch('http://reviews:9080/').catch((e: unknown) => e)) as MeshletError;
    expect(err.code).toBe('MESHLET_ERR_MESH_CLOSED');
  });
});
