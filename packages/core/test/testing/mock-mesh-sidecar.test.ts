import { afterEach, describe, expect, it } from 'vitest';
import { configDump } from '../../src/admin/config-dump.js';
import { explainOutbound } from '../../src/cli/explain-outbound.js';
import { createMockMesh, type MockMesh } from '../../src/testing/index.js';

// The Sidecar resource through the mock mesh, as istio.io's Sidecar reference uses it: a
// mesh-wide default in the root namespace that imports the workload's own namespace and
// istio-system only, with REGISTRY_ONLY; a namespace's own Sidecar that imports one more
// host; a VirtualService of another namespace that a scoped workload does not import.

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

async function topology(): Promise<MockMesh> {
  const mm = await createMockMesh({});
  open.push(mm);
  mm.service('helloworld', { namespace: 'sample', port: 5000 }, () => ({ status: 200, body: 'hello' }));
  mm.service('httpbin', { namespace: 'other', port: 8000 }, () => ({ status: 200, body: 'httpbin' }));
  return mm;
}

const ROOT_DEFAULT = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`;

describe('mock mesh: the Sidecar resource', () => {
  it("blocks a service of another namespace under the root default's REGISTRY_ONLY, until the namespace's Sidecar imports it", async () => {
    const mm = await topology();
    const sleep = mm.workload({ namespace: 'sample', serviceAccount: 'sleep' });
    const other = await sleep.fetch('http://httpbin.other:8000/');
    expect([other.status, other.meshlet.route]).toEqual([200, 'default']);

    await mm.apply(ROOT_DEFAULT);
    expect((await sleep.mesh()).plan.sidecar).toEqual({ namespace: 'istio-system', name: 'default' });
    expect(configDump((await sleep.mesh()).plan, { hash: 'h', loadedAt: 0, files: [] }).sidecar).toBe(
      'default.istio-system',
    );
    const blocked = await sleep.fetch('http://httpbin.other:8000/');
    // Not imported, so unknown to this sidecar: the BlackHoleCluster's 502.
    expect([blocked.status, blocked.meshlet.route, blocked.meshlet.upstream]).toEqual([
      502,
      'block_all',
      null,
    ]);
    // meshlet explain says why.
    const why = explainOutbound((await sleep.mesh()).plan, {
      method: 'GET',
      url: 'http://httpbin.other:8000/',
      headers: {},
    });
    expect(why.outcome).toBe(
      '502 from BlackHoleCluster: the host is not in the registry this workload sees (REGISTRY_ONLY) (Sidecar istio-system/default scopes it)',
    );
    const own = await sleep.fetch('http://helloworld:5000/');
    expect([own.status, await own.text()]).toEqual([200, 'hello']);

    // The namespace's own Sidecar wins over the root's: it imports httpbin, and names no
    // outboundTrafficPolicy, so meshConfig's ALLOW_ANY is back.
    await mm.apply(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: sample }
spec:
  egress:
  - hosts: ["./*", "other/httpbin.other.svc.cluster.local"]
`);
    const imported = await sleep.fetch('http://httpbin.other:8000/');
    expect([imported.status, imported.meshlet.route, await imported.text()]).toEqual([
      200,
      'default',
      'httpbin',
    ]);
    expect((await sleep.mesh()).plan.meshConfig.outboundTrafficPolicy).toBe('ALLOW_ANY');
  });

  it("does not apply a VirtualService the workload's Sidecar does not import; ALLOW_ANY passes the call through", async () => {
    const mm = await topology();
    await mm.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: other }
spec:
  hosts: [httpbin.other.svc.cluster.local]
  http:
  - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: { host: httpbin.other.svc.cluster.local } }]
`);
    const scoped = mm.workload({ namespace: 'sample', serviceAccount: 'sleep' });
    const unscoped = mm.workload({ namespace: 'third', serviceAccount: 'sleep' });
    await mm.apply(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: sample }
spec:
  egress:
  - hosts: ["./*"]
`);
    expect((await unscoped.fetch('http://httpbin.other:8000/')).status).toBe(418);
    const through = await scoped.fetch('http://httpbin.other:8000/');
    expect([through.status, through.meshlet.route, await through.text()]).toEqual([
      200,
      'allow_any',
      'httpbin',
    ]);
  });
});
