import express from 'express';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh, type MeshReloadEvent } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/express/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { routeRateLimitYaml } from '../../packages/core/test/helpers/local-rate-limit-route.js';

// istio.io's route-level local rate limit (policy-enforcement/rate-limit) through a real
// server: the HTTP_ROUTE patch configures the inbound route of the virtual host it names,
// `inbound|http|<port>`, and no other (istio envoyfilter/rc_patch.go virtualHostMatch).

const tmp = useTmpDir();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const vhost = (port: number | string) =>
  routeRateLimitYaml({
    routeConfiguration: `{ vhost: { name: "inbound|http|${port}", route: { action: ANY } } }`,
  });

async function productpage(dir: string): Promise<{ mesh: Mesh; port: number }> {
  const mesh = await createMesh({
    config: dir,
    workload: {
      name: 'productpage-v1',
      namespace: 'default',
      serviceAccount: 'bookinfo-productpage',
      labels: { app: 'productpage' },
    },
    telemetry: false,
    debounceMs: 10,
  });
  closers.push(() => mesh.close());
  const app = express();
  app.use(meshlet({ mesh }));
  app.get('/productpage', (_req, res) => res.send('ok'));
  const server = await mesh.listen(app, 0, '127.0.0.1');
  return { mesh, port: (server.address() as AddressInfo).port };
}

async function statuses(port: number, n: number): Promise<(number | string)[]> {
  const out: (number | string)[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/productpage`);
    await res.text();
    out.push(res.headers.get('x-local-rate-limit') === 'true' ? `${res.status} limited` : res.status);
  }
  return out;
}

describe('a route-level local rate limit', () => {
  it('limits the port its virtual host names, and leaves another port alone', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'ratelimit.yaml');
    await writeFile(file, vhost(9080));
    const { mesh, port } = await productpage(dir);
    // The task's 4-per-minute bucket is for inbound|http|9080; this workload serves elsewhere.
    expect(await statuses(port, 6)).toEqual([200, 200, 200, 200, 200, 200]);

    const reloaded = new Promise<MeshReloadEvent>((r) => mesh.on('reload', r));
    await writeFile(file, vhost(port));
    await reloaded;
    expect(await statuses(port, 5)).toEqual([200, 200, 200, 200, '429 limited']);
  });
});
