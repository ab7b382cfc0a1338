import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { gatewayMesh, type Cleanup } from './support/tcp-echo.js';

// Kubernetes ExternalName Services, as Istio treats them (kube/conversion.go resolution
// Alias; push_context.go initServiceRegistry; httproute.go generateVirtualHostDomains): the
// istio.io task "Kubernetes Services for Egress Traffic" names httpbin.org through
// my-httpbin; when the mesh knows httpbin.org (a ServiceEntry), calls to the alias route as
// calls to it, its VirtualService included; when it does not, the alias is no service.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const SLEEP = { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep' } };

const MY_HTTPBIN = `apiVersion: v1
kind: Service
metadata: { name: my-httpbin, namespace: default }
spec:
  type: ExternalName
  externalName: httpbin.org
  ports: [{ name: http, protocol: TCP, port: 80 }]
`;
const HTTPBIN_ORG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin-ext, namespace: default }
spec:
  hosts: [httpbin.org]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin-ext, namespace: default }
spec:
  hosts: [httpbin.org]
  http:
  - headers: { request: { set: { x-routed-by: httpbin-ext } } }
    route: [{ destination: { host: httpbin.org } }]
`;

/** httpbin.org's /headers: the Host and the route's header it was sent. */
async function httpbin(): Promise<number> {
  const server: Server = createServer((req, res) =>
    res.end(`${req.headers.host ?? ''} ${String(req.headers['x-routed-by'] ?? '-')}`),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

async function sleep(files: Record<string, string>, port: number): Promise<Mesh> {
  const { mesh } = await gatewayMesh(
    cleanup,
    tmp,
    files,
    { 'httpbin.org': [{ address: '127.0.0.1', port }] },
    { workload: SLEEP, meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' } },
  );
  return mesh;
}

describe('ExternalName Services', () => {
  it('route as the host they name when the mesh knows it, under its VirtualService, by every name of the alias', async () => {
    const port = await httpbin();
    const mesh = await sleep({ 'my-httpbin.yaml': MY_HTTPBIN, 'httpbin-org.yaml': HTTPBIN_ORG }, port);
    expect(mesh.plan.outbound.services['httpbin.org']?.aliases).toEqual([
      'my-httpbin.default.svc.cluster.local',
    ]);
    expect(mesh.plan.outbound.services['my-httpbin.default.svc.cluster.local']).toBeUndefined();
    for (const host of ['my-httpbin.default.svc.cluster.local', 'my-httpbin.default', 'my-httpbin']) {
      const res = await mesh.fetch(`http://${host}/headers`);
      expect([host, res.status, await res.text()]).toEqual([host, 200, `${host} httpbin-ext`]);
      expect(res.meshlet).toMatchObject({
        route: 'default/httpbin-ext/0',
        upstream: { cluster: 'outbound|80||httpbin.org' },
      });
    }
  });

  it('are no service of their own: without the named host in the registry, REGISTRY_ONLY blocks the alias', async () => {
    const port = await httpbin();
    const mesh = await sleep({ 'my-httpbin.yaml': MY_HTTPBIN }, port);
    const res = await mesh.fetch('http://my-httpbin.default.svc.cluster.local/headers');
    expect([res.status, res.meshlet.route]).toEqual([502, 'block_all']);
  });

  it('follow an alias of an alias, and resolve a loop to nothing', async () => {
    const port = await httpbin();
    const chain = `${MY_HTTPBIN}---
apiVersion: v1
kind: Service
metadata: { name: httpbin-alias, namespace: other }
spec: { type: ExternalName, externalName: my-httpbin.default.svc.cluster.local }
---
apiVersion: v1
kind: Service
metadata: { name: a, namespace: default }
spec: { type: ExternalName, externalName: b.default.svc.cluster.local }
---
apiVersion: v1
kind: Service
metadata: { name: b, namespace: default }
spec: { type: ExternalName, externalName: a.default.svc.cluster.local }
`;
    const mesh = await sleep({ 'aliases.yaml': chain, 'httpbin-org.yaml': HTTPBIN_ORG }, port);
    // Sorted by namespace, then name.
    expect(mesh.plan.outbound.services['httpbin.org']?.aliases).toEqual([
      'my-httpbin.default.svc.cluster.local',
      'httpbin-alias.other.svc.cluster.local',
    ]);
    const res = await mesh.fetch('http://httpbin-alias.other/headers');
    expect([res.status, await res.text()]).toEqual([200, 'httpbin-alias.other httpbin-ext']);
    expect((await mesh.fetch('http://a/')).status).toBe(502);
  });
});
