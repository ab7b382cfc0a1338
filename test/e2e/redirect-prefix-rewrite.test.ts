import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

// A VirtualService redirect with prefixRewrite, through mesh.fetch and a real server the
// Location leads to. Istio hands prefixRewrite to Envoy's RedirectAction prefix_rewrite
// (pilot route.go ApplyRedirect), which swaps the matched prefix and keeps the rest of
// the path and the query (envoy config_impl.cc finalizePathHeaderForRedirect).

const tmp = useTmpDir();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** The new shop: answers every request with the path it got. */
async function shop(): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end(`shop ${req.url ?? ''}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return { port: (server.address() as AddressInfo).port, seen };
}

async function meshWith(yaml: string): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'front', namespace: 'default', serviceAccount: 'front', labels: { app: 'front' } },
    telemetry: false,
  });
  closers.push(() => mesh.close());
  return mesh;
}

const legacy = (shopPort: number) => `
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: default }
spec: { selector: { app: legacy }, ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: legacy, namespace: default }
spec:
  hosts: [legacy]
  http:
  - match: [{ uri: { prefix: /catalog/ } }]
    redirect: { authority: "127.0.0.1:${shopPort}", prefixRewrite: /shop/, redirectCode: 302 }
`;

describe('VirtualService redirect prefixRewrite through mesh.fetch', () => {
  it('sends the caller to the rewritten path, where the new server answers', async () => {
    const next = await shop();
    const mesh = await meshWith(legacy(next.port));
    const moved = await mesh.fetch('http://legacy.default.svc.cluster.local/catalog/items?id=3');
    await moved.text();
    const location = `http://127.0.0.1:${next.port}/shop/items?id=3`;
    expect([moved.status, moved.headers.get('location')]).toEqual([302, location]);
    const res = await mesh.fetch(moved.headers.get('location') ?? '');
    expect([res.status, await res.text()]).toEqual([200, 'shop /shop/items?id=3']);
    expect(next.seen).toEqual(['/shop/items?id=3']);
  });
});
