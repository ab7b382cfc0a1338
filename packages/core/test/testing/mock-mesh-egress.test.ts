import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh, type MockMeshOptions } from '../../src/testing/index.js';
import { SAMPLES } from '../helpers/tmp.js';

const MIRRORING = path.join(SAMPLES, 'tasks/mirroring');

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

async function mock(options: MockMeshOptions): Promise<MockMesh> {
  const mm = await createMockMesh(options);
  open.push(mm);
  return mm;
}

const API = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api.example.com]
  http:
  - match: [{ uri: { prefix: /teapot } }]
    fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: { host: api.example.com } }]
  - route: [{ destination: { host: api.example.com } }]
    timeout: 2s
`;

describe('mock mesh: Kubernetes Services, mirroring and external hosts', () => {
  it('reproduces the mirroring task: the Service maps 8000 to the pods on 80, and v2 gets a shadow copy of each call', async () => {
    const mm = await mock({
      config: [
        path.join(MIRRORING, '00-httpbin-v1-v2-topology.yaml'),
        path.join(MIRRORING, '01-httpbin-all-v1.yaml'),
      ],
    });
    const seen: Record<string, string[]> = { v1: [], v2: [] };
    for (const version of ['v1', 'v2']) {
      mm.service('httpbin', { labels: { version }, port: 80 }, (req) => {
        seen[version]?.push(String(req.headers['host']));
        return { status: 200, body: version };
      });
    }
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    expect(await (await sleep.fetch('http://httpbin:8000/headers')).text()).toBe('v1');
    expect(seen).toEqual({ v1: ['httpbin:8000'], v2: [] });

    await mm.apply(await readSample(path.join(MIRRORING, '02-httpbin-mirror-v2.yaml')));
    const res = await sleep.fetch('http://httpbin:8000/headers');
    expect(await res.text()).toBe('v1');
    // The shadow copy is fire-and-forget; it arrives on the mock network's next turns.
    await mm.clock.advance(0);
    expect(seen).toEqual({ v1: ['httpbin:8000', 'httpbin:8000'], v2: ['httpbin-shadow:8000'] });
    // A pod without a sidecar reaches the same pods through the Service's port mapping.
    const legacy = mm.workload({ namespace: 'default', serviceAccount: 'legacy', mesh: false });
    expect((await legacy.fetch('http://httpbin.default:8000/')).status).toBe(200);
  });

  it('serves an external host from a mock pod found by DNS, with the ServiceEntry and its VirtualService applied', async () => {
    const mm = await mock({ config: API });
    mm.service('api.example.com', { port: 80, mesh: false }, async (req) => {
      if (req.path === '/slow') await mm.clock.sleep(3_000);
      return { status: 200, body: `api saw ${String(req.headers['host'])}` };
    });
    const app = mm.workload({ serviceAccount: 'app' });
    const ok = await app.fetch('http://api.example.com/items');
    expect([ok.status, await ok.text(), ok.meshlet.upstream?.host]).toEqual([
      200,
      'api saw api.example.com',
      'api.example.com',
    ]);
    const teapot = await app.fetch('http://api.example.com/teapot');
    expect([teapot.status, teapot.meshlet.flags]).toEqual([418, ['FI']]);
    const slow = await app.fetch('http://api.example.com/slow');
    expect([slow.status, slow.meshlet.flags, mm.clock.now()]).toEqual([504, ['UT'], 2_000]);
    // The hop log: the fault answered without an upstream; the timed-out call reports none either.
    expect(mm.log.map((h) => [h.status, h.destination?.workload ?? null])).toEqual([
      [200, 'default/api.example.com'],
      [418, null],
      [504, null],
    ]);
  });

  it('blocks a host outside the registry under REGISTRY_ONLY, and passes it through under ALLOW_ANY', async () => {
    const serve = (mm: MockMesh) =>
      mm.service('unlisted.example.org', { port: 80, mesh: false }, () => ({ status: 200, body: 'reached' }));
    const allow = await mock({});
    serve(allow);
    const through = await allow.workload({ serviceAccount: 'app' }).fetch('http://unlisted.example.org/');
    expect([through.status, await through.text()]).toEqual([200, 'reached']);

    const only = await mock({ meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' } });
    serve(only);
    const blocked = await only.workload({ serviceAccount: 'app' }).fetch('http://unlisted.example.org/');
    expect(blocked.status).toBe(502);
    expect(blocked.meshlet.upstream).toBeNull();
  });

  it('originates TLS to an external HTTPS pod as the egress TLS-origination sample says, and fails plaintext or a wrong name', async () => {
    const egress = await readSample(path.join(SAMPLES, 'bookinfo-networking/egress-rule-google-apis.yaml'));
    const mm = await mock({ config: egress });
    mm.service('www.googleapis.com', { port: 443, mesh: false, tls: true }, (req) => ({
      status: 200,
      body: `googleapis ${req.path}`,
    }));
    const app = mm.workload({ serviceAccount: 'app' });
    // The app calls port 80 in plaintext; the VirtualService sends it to 443, where the
    // DestinationRule originates TLS (SIMPLE, SNI and name check for the host).
    const ok = await app.fetch('http://www.googleapis.com/books/v1/volumes');
    expect([ok.status, await ok.text()]).toEqual([200, 'googleapis /books/v1/volumes']);
    // The app's own TLS to 443 passes through the sidecar to the same pod.
    const direct = await app.fetch('https://www.googleapis.com/books/v1/volumes');
    expect(direct.status).toBe(200);
    // So does a pod without a sidecar, and its plain http to 443 is closed.
    const legacy = mm.workload({ serviceAccount: 'legacy', mesh: false });
    expect((await legacy.fetch('https://www.googleapis.com/')).status).toBe(200);
    await expect(legacy.fetch('http://www.googleapis.com:443/')).rejects.toMatchObject({
      code: 'ECONNRESET',
    });

    // Without the DestinationRule the sidecar sends plaintext to the HTTPS port: the server
    // closes the connection (503 UC, retried as a reset and still closed).
    const noDr = await mock({ config: egress.split('---').slice(0, 2).join('---') });
    noDr.service('www.googleapis.com', { port: 443, mesh: false, tls: true }, () => ({ status: 200 }));
    const plain = await noDr.workload({ serviceAccount: 'app' }).fetch('http://www.googleapis.com/');
    expect([plain.status, plain.meshlet.flags.includes('UC') || plain.meshlet.flags.includes('URX')]).toEqual(
      [503, true],
    );

    // A DestinationRule expecting another name: the SAN check refuses the certificate (UF).
    // (An explicit `sni` alone would pass: Istio then checks the chain, not the name.)
    const wrongSni = await mock({
      config: egress.replace('mode: SIMPLE', 'mode: SIMPLE\n        subjectAltNames: [other.example.com]'),
    });
    wrongSni.service('www.googleapis.com', { port: 443, mesh: false, tls: true }, () => ({ status: 200 }));
    const refused = await wrongSni.workload({ serviceAccount: 'app' }).fetch('http://www.googleapis.com/');
    // Istio's default retry policy retries the failed connect twice: UF, then URX.
    expect([refused.status, refused.meshlet.flags]).toEqual([503, ['UF', 'URX']]);
  });
});

async function readSample(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file, 'utf8');
}

describe('mock mesh: DestinationRule credentialName', () => {
  // istio.io "Egress TLS Origination", mutual TLS at the sidecar: the rule's workloadSelector
  // is what lets a sidecar read the secret (cluster_tls.go); the mock cluster has the secret.
  const config = (selector: boolean) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: originate-mtls-for-nginx }
spec:
  hosts: [my-nginx.mesh-external.svc.cluster.local]
  ports:
  - { number: 80, name: http-port, protocol: HTTP, targetPort: 443 }
  - { number: 443, name: https-port, protocol: HTTPS }
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-mtls-for-nginx }
spec:
${selector ? '  workloadSelector: { matchLabels: { app: curl } }\n' : ''}  host: my-nginx.mesh-external.svc.cluster.local
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
    - port: { number: 80 }
      tls: { mode: MUTUAL, credentialName: client-credential, sni: my-nginx.mesh-external.svc.cluster.local }
`;

  it('originates mutual TLS from a sidecar whose rule selects it, and sends plaintext (closed by the TLS port) otherwise', async () => {
    for (const selector of [true, false]) {
      const mm = await mock({ config: config(selector) });
      mm.service('my-nginx.mesh-external.svc.cluster.local', { port: 443, mesh: false, tls: true }, () => ({
        status: 200,
        body: 'nginx',
      }));
      const curl = mm.workload({ serviceAccount: 'curl', labels: { app: 'curl' } });
      const res = await curl.fetch('http://my-nginx.mesh-external.svc.cluster.local/');
      if (selector) expect([res.status, await res.text()]).toEqual([200, 'nginx']);
      else expect(res.status).toBe(503);
    }
  });
});
