import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createManualClock,
  createMesh,
  systemClock,
  type Clock,
  type Mesh,
} from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { createOpensslCa } from '../support/openssl-ca.js';

// How a call finds its endpoints, through createMesh, the got transport and real loopback
// servers, with DNS injected through `resolveDns` (never the network): DNS_ROUND_ROBIN is
// LOGICAL_DNS (istio pilot/pkg/networking/core/cluster.go convertResolution), a wildcard
// DYNAMIC_DNS host is a dynamic forward proxy cluster, and a Kubernetes Service selects
// WorkloadEntries (kube controller.go serviceInstancesFromWorkloadInstances).

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
const caDir = mkdtemp(path.join(tmpdir(), 'meshlet-ca-'));
afterAll(async () => rm(await caDir, { recursive: true, force: true }));

async function listen(server: Server, address: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** Plain HTTP servers on 127.0.0.2 and 127.0.0.3, one port, answering with the address called. */
async function twoAddresses(): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const handler: Handler = (req, res) => {
    hits.push(req.socket.localAddress ?? '');
    res.end(req.socket.localAddress);
  };
  const port = await listen(createServer(handler), '127.0.0.2');
  await listen(createServer(handler), '127.0.0.3', port);
  return { port, hits };
}

async function meshWith(
  yaml: string,
  dns: Record<string, string[]>,
  lookups: string[] = [],
  clock: Clock = createManualClock(),
): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'app', namespace: 'default', serviceAccount: 'app', labels: { app: 'app' } },
    clock,
    resolveDns: (host) => {
      lookups.push(host);
      const a = dns[host];
      return a === undefined ? Promise.reject(new Error(`ENOTFOUND ${host}`)) : Promise.resolve([...a]);
    },
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

describe('ServiceEntry resolution DNS_ROUND_ROBIN', () => {
  const se = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: rr, namespace: default }
spec:
  hosts: [rr.example.test]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: DNS_ROUND_ROBIN
  location: MESH_EXTERNAL
`;

  it('connects to the first address DNS gives, and to the new first one after dnsRefreshRate', async () => {
    const { port, hits } = await twoAddresses();
    const dns: Record<string, string[]> = { 'rr.example.test': ['127.0.0.2', '127.0.0.3'] };
    const lookups: string[] = [];
    const clock = createManualClock();
    const mesh = await meshWith(se(port), dns, lookups, clock);
    for (let i = 0; i < 4; i++) {
      const res = await mesh.fetch(`http://rr.example.test:${port}/`);
      expect([res.status, await res.text()]).toEqual([200, '127.0.0.2']);
      expect(res.meshlet.upstream?.address).toBe(`127.0.0.2:${port}`);
    }
    expect(hits).toEqual(['127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.2']);
    expect(lookups).toEqual(['rr.example.test']);
    dns['rr.example.test'] = ['127.0.0.3', '127.0.0.2'];
    await clock.advance(60_000);
    expect(await (await mesh.fetch(`http://rr.example.test:${port}/`)).text()).toBe('127.0.0.3');
    expect(lookups).toEqual(['rr.example.test', 'rr.example.test']);
  });
});

describe('ServiceEntry resolution DNS with endpoints named by host', () => {
  // STRICT_DNS (istio cluster.go convertResolution): Envoy resolves each endpoint's address and
  // makes every address it gets a host of its own, with the endpoint's labels, locality and
  // weight (envoy strict_dns_cluster.cc ResolveTarget), so calls spread over all of them.
  it('balances over every address each endpoint resolves to', async () => {
    const { port, hits } = await twoAddresses();
    const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: strict, namespace: default }
spec:
  hosts: [api.example.test]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_EXTERNAL
  endpoints: [{ address: backends.example.test }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: strict, namespace: default }
spec:
  host: api.example.test
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
`;
    const lookups: string[] = [];
    const mesh = await meshWith(yaml, { 'backends.example.test': ['127.0.0.2', '127.0.0.3'] }, lookups);
    const addresses = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await mesh.fetch(`http://api.example.test:${port}/`);
      expect(res.status).toBe(200);
      addresses.add(res.meshlet.upstream?.address ?? '');
    }
    expect(addresses).toEqual(new Set([`127.0.0.2:${port}`, `127.0.0.3:${port}`]));
    expect([...new Set(hits)].sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(lookups).toEqual(['backends.example.test']);
  });
});

describe('ServiceEntry resolution DNS with a workloadSelector', () => {
  // istio serviceentry/conversion.go convertServiceEntryToInstances: the host itself becomes an
  // endpoint only when the entry has no endpoints *and no workloadSelector*; a selector that
  // picks no WorkloadEntry leaves the cluster without hosts, `503 UH`.
  it('answers 503 UH, without resolving the host, when the selector picks no WorkloadEntry', async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: vms, namespace: default }
spec:
  hosts: [vm.example.test]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_INTERNAL
  workloadSelector: { labels: { app: vm } }
`;
    const lookups: string[] = [];
    const mesh = await meshWith(yaml, { 'vm.example.test': ['127.0.0.2'] }, lookups);
    const res = await mesh.fetch('http://vm.example.test:8080/');
    expect([res.status, await res.text(), res.meshlet.flags]).toEqual([503, 'no healthy upstream', ['UH']]);
    expect(lookups).toEqual([]);
  });
});

describe('ServiceEntry wildcard host, resolution DYNAMIC_DNS', () => {
  it("originates the DestinationRule's TLS to the address of the request's host", async () => {
    const ca = await createOpensslCa(await caDir);
    const cert = await ca.issue('storage', ['storage.example.test']);
    const port = await listen(
      createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) =>
        res.end(`tls ${req.socket.localAddress} ${req.headers.host}`),
      ),
      '127.0.0.2',
    );
    const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wildcard, namespace: default }
spec:
  hosts: ['*.example.test']
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: DYNAMIC_DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wildcard, namespace: default }
spec:
  host: '*.example.test'
  trafficPolicy:
    tls: { mode: SIMPLE, caCertificates: ${ca.caFile}, sni: storage.example.test }
`;
    const mesh = await meshWith(yaml, { 'storage.example.test': ['127.0.0.2'] });
    const res = await mesh.fetch(`http://storage.example.test:${port}/`);
    expect([res.status, await res.text()]).toEqual([200, `tls 127.0.0.2 storage.example.test:${port}`]);
  });
});

describe('auto SNI for DestinationRule TLS without sni', () => {
  it("sends the request's host name as SNI and checks the server's certificate against it", async () => {
    const ca = await createOpensslCa(await caDir);
    const storage = await ca.issue('storage', ['storage.example.test']);
    const pubsub = await ca.issue('pubsub', ['pubsub.example.test']);
    const names: string[] = [];
    // One address for every name, as a CDN serves many: the certificate follows the SNI,
    // and mixed.example.test gets storage's, which does not name it.
    const certFor = (name: string) => (name === 'pubsub.example.test' ? pubsub : storage);
    const server = createHttpsServer(
      {
        cert: storage.cert,
        key: storage.key,
        SNICallback: (name, cb) => {
          names.push(name);
          const c = certFor(name);
          cb(null, createSecureContext({ cert: c.cert, key: c.key }));
        },
      },
      (req, res) => res.end(`tls ${req.headers.host}`),
    );
    const port = await listen(server, '127.0.0.2');
    const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wildcard, namespace: default }
spec:
  hosts: ['*.example.test']
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: DYNAMIC_DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wildcard, namespace: default }
spec:
  host: '*.example.test'
  trafficPolicy:
    tls: { mode: SIMPLE, caCertificates: ${ca.caFile} }
`;
    const at = ['127.0.0.2'];
    // The system clock: the refused handshake is retried after Istio's default backoff.
    const mesh = await meshWith(
      yaml,
      { 'storage.example.test': at, 'pubsub.example.test': at, 'mixed.example.test': at },
      [],
      systemClock,
    );
    for (const name of ['storage', 'pubsub', 'storage']) {
      const res = await mesh.fetch(`http://${name}.example.test:${port}/`);
      expect([res.status, await res.text()]).toEqual([200, `tls ${name}.example.test:${port}`]);
    }
    expect(names).toEqual(['storage.example.test', 'pubsub.example.test']);
    const mismatch = await mesh.fetch(`http://mixed.example.test:${port}/`);
    expect(mismatch.status).toBe(503);
    expect(mismatch.meshlet.flags).toContain('UF');
  });
});

describe('Kubernetes Service selecting WorkloadEntries', () => {
  it('sends the Service to the VMs its selector picks, on the port each entry names', async () => {
    const { port, hits } = await twoAddresses();
    const entry = (name: string, address: string) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: vm-ns }
spec:
  address: ${address}
  labels: { app: legacy }
  ports: { http: ${port} }
`;
    const yaml = `apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: vm-ns }
spec:
  clusterIP: 10.96.0.10
  selector: { app: legacy }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
# Round robin, so four calls reach both entries (a random pick could stay on one).
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: legacy, namespace: vm-ns }
spec: { host: legacy.vm-ns.svc.cluster.local, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
${entry('vm-1', '127.0.0.2')}${entry('vm-2', '127.0.0.3')}`;
    // No DNS answer: only the WorkloadEntries can serve the Service.
    const lookups: string[] = [];
    const mesh = await meshWith(yaml, {}, lookups);
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await mesh.fetch('http://legacy.vm-ns.svc.cluster.local/');
      expect(res.status).toBe(200);
      expect(res.meshlet.upstream?.cluster).toBe('outbound|80||legacy.vm-ns.svc.cluster.local');
      bodies.push(await res.text());
    }
    expect([...new Set(bodies)].sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(hits).toHaveLength(4);
    expect(lookups).toEqual([]);
  });
});
