import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { useDevCa } from '../support/dev-ca.js';

// Auto mTLS decides per cluster as istiod does (cluster_tls.go buildUpstreamTLSSettings,
// push_context.go BestEffortInferServiceMTLSMode): a caller with a workload certificate
// sends ISTIO_MUTUAL to endpoints that run in the mesh, unless meshConfig enableAutoMtls
// is false, the service is MESH_EXTERNAL, or the service's namespace (else mesh)
// PeerAuthentication is DISABLE. The upstream here serves plaintext only, so a call that
// starts TLS fails (503 UF) and one that does not gets its `ok`.

const tmp = useTmpDir();
const { certsFor } = useDevCa(tmp);
let upstream: Server;
let port = 0;
const open: Mesh[] = [];

beforeAll(async () => {
  upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  port = (upstream.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => upstream.close(r)));
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: api, namespace: legacy }
spec: { selector: { app: api }, ports: [{ name: http, port: 8080 }] }
`;

function pa(ns: string, mode: string): string {
  return `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: ${ns} }
spec: { mtls: { mode: ${mode} } }
`;
}

type Endpoints = NonNullable<NonNullable<Parameters<typeof createMesh>[0]>['endpoints']>;

async function call(
  config: string,
  options: { meshConfig?: Record<string, unknown>; endpoints?: false | Endpoints } = {},
) {
  const dir = await tmp();
  await writeFile(path.join(dir, 'config.yaml'), config);
  const m = await createMesh({
    config: dir,
    workload: { name: 'app', namespace: 'default', serviceAccount: 'app', labels: { app: 'app' } },
    certs: await certsFor('app'),
    ...(options.endpoints === false
      ? {}
      : {
          endpoints: options.endpoints ?? {
            'api.legacy.svc.cluster.local': [
              { address: '127.0.0.1', port, labels: { app: 'api' }, serviceAccount: 'api' },
            ],
          },
        }),
    ...(options.meshConfig === undefined ? {} : { meshConfig: options.meshConfig }),
  });
  open.push(m);
  const res = await m.fetch(
    options.endpoints === false ? 'http://api.example.com/' : 'http://api.legacy:8080/',
  );
  return { status: res.status, flags: res.meshlet.flags, body: await res.text() };
}

describe('auto mTLS to a mesh endpoint', () => {
  it('starts mTLS by default, so a plaintext-only upstream fails', async () => {
    const r = await call(SERVICE);
    expect(r.status).toBe(503);
    expect(r.flags).toContain('UF');
  });

  it("sends plaintext when the service namespace's PeerAuthentication is DISABLE", async () => {
    expect(await call(SERVICE + pa('legacy', 'DISABLE'))).toMatchObject({ status: 200, body: 'ok' });
  });

  it('reads the mesh policy when the namespace has none, and a namespace STRICT over a mesh DISABLE', async () => {
    expect(await call(SERVICE + pa('istio-system', 'DISABLE'))).toMatchObject({ status: 200, body: 'ok' });
    const strict = await call(SERVICE + pa('istio-system', 'DISABLE') + pa('legacy', 'STRICT'));
    expect(strict.status).toBe(503);
  });

  it('sends plaintext with meshConfig enableAutoMtls: false', async () => {
    expect(await call(SERVICE, { meshConfig: { enableAutoMtls: false } })).toMatchObject({
      status: 200,
      body: 'ok',
    });
  });

  it('sends plaintext to a MESH_EXTERNAL ServiceEntry whose endpoint names a service account', async () => {
    const entry = (location: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: ${location}
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} }, serviceAccount: api }]
`;
    expect(await call(entry('MESH_EXTERNAL'), { endpoints: false })).toMatchObject({
      status: 200,
      body: 'ok',
    });
    expect((await call(entry('MESH_INTERNAL'), { endpoints: false })).status).toBe(503);
  });

  it('reads an endpoint label tlsMode: disabled before its service account', async () => {
    const labelled = {
      'api.legacy.svc.cluster.local': [
        {
          address: '127.0.0.1',
          port,
          labels: { app: 'api', 'security.istio.io/tlsMode': 'disabled' },
          serviceAccount: 'api',
        },
      ],
    };
    expect(await call(SERVICE, { endpoints: labelled })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('sends plaintext through a PASSTHROUGH load balancer when an endpoint is labelled tlsMode: disabled', async () => {
    const entry = (labels: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} }, serviceAccount: api, labels: { ${labels} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec: { host: api.example.com, trafficPolicy: { loadBalancer: { simple: PASSTHROUGH } } }
`;
    expect(await call(entry('security.istio.io/tlsMode: disabled'), { endpoints: false })).toMatchObject({
      status: 200,
      body: 'ok',
    });
    expect((await call(entry('app: api'), { endpoints: false })).status).toBe(503);
  });
});
