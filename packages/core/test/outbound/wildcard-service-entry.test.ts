import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh } from '../../src/mesh/create-mesh.js';
import type { Mesh } from '../../src/mesh/types.js';
import { createManualClock, type ManualClock } from '../../src/runtime/clock.js';
import { useTmpDir } from '../helpers/tmp.js';
import { echoAddress, harness, planOf, bookinfo } from './pipeline/support/setup.js';

// A wildcard ServiceEntry host with resolution NONE is an ORIGINAL_DST cluster: the sidecar
// forwards to the address the app dialled; with DYNAMIC_DNS it is Envoy's dynamic forward
// proxy, which resolves the request's Host (istio pilot/pkg/networking/core/cluster.go
// convertResolution and buildOutboundClusters, cluster_builder.go buildDFPCluster). In
// process meshlet resolves the request's own host name at call time and pins the call to it.

/** Loopback servers on 127.0.0.2 and 127.0.0.3, one port, answering with the address called. */
interface Backends {
  readonly port: number;
  readonly hits: string[];
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function backends(): Promise<Backends> {
  const hits: string[] = [];
  let held: ServerResponse[] | null = null;
  const servers: Server[] = [];
  const listen = (address: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer((req, res) => {
        hits.push(req.socket.localAddress ?? '');
        res.setHeader('x-host', req.headers.host ?? '');
        if (held !== null) held.push(res);
        else res.end(req.socket.localAddress);
      });
      servers.push(server);
      server.once('error', reject);
      server.listen(port, address, () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen('127.0.0.2', 0);
  await listen('127.0.0.3', port);
  return {
    port,
    hits,
    hold: () => {
      held = [];
    },
    release: () => {
      const all = held ?? [];
      held = null;
      for (const res of all) res.end(res.req.socket.localAddress);
    },
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function serviceEntry(resolution: string, port: number, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wildcard, namespace: default }
spec:
  hosts: ['*.example.test']
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: ${resolution}
  location: MESH_EXTERNAL
${extra}`;
}

const DNS: Readonly<Record<string, string[]>> = {
  'storage.example.test': ['127.0.0.2'],
  'pubsub.example.test': ['127.0.0.3', '127.0.0.2'],
};

async function meshWith(yaml: string, clock: ManualClock, lookups: string[]): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'app', namespace: 'default', serviceAccount: 'app', labels: { app: 'app' } },
    clock,
    resolveDns: (host) => {
      lookups.push(host);
      const a = DNS[host];
      return a === undefined ? Promise.reject(new Error(`ENOTFOUND ${host}`)) : Promise.resolve([...a]);
    },
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

async function call(mesh: Mesh, url: string, headers: Record<string, string> = {}) {
  const res = await mesh.fetch(url, { headers });
  return {
    status: res.status,
    body: await res.text(),
    flags: res.meshlet.flags,
    cluster: res.meshlet.upstream?.cluster ?? null,
    address: res.meshlet.upstream?.address ?? null,
  };
}

describe.each(['NONE', 'DYNAMIC_DNS'])('wildcard ServiceEntry host, resolution %s', (resolution) => {
  it("reaches each host under the wildcard at its own address, on the request's port", async () => {
    const b = await backends();
    cleanup.push(() => b.close());
    const lookups: string[] = [];
    const mesh = await meshWith(serviceEntry(resolution, b.port), createManualClock(), lookups);
    const storage = await call(mesh, `http://storage.example.test:${b.port}/o`);
    expect(storage).toEqual({
      status: 200,
      body: '127.0.0.2',
      flags: [],
      cluster: `outbound|${b.port}||*.example.test`,
      address: `127.0.0.2:${b.port}`,
    });
    // The first address DNS gives: the one an app dials, the one Envoy's DNS cache keeps.
    expect((await call(mesh, `http://pubsub.example.test:${b.port}/t`)).body).toBe('127.0.0.3');
    expect(lookups).toEqual(['storage.example.test', 'pubsub.example.test']);
  });

  it('keeps each call on its own host while calls to several hosts interleave', async () => {
    const b = await backends();
    cleanup.push(() => b.close());
    const mesh = await meshWith(serviceEntry(resolution, b.port), createManualClock(), []);
    const urls = Array.from({ length: 12 }, (_, i) =>
      i % 2 === 0 ? `http://storage.example.test:${b.port}/` : `http://pubsub.example.test:${b.port}/`,
    );
    const bodies = await Promise.all(urls.map(async (u) => (await call(mesh, u)).body));
    expect(bodies).toEqual(urls.map((u) => (u.includes('storage') ? '127.0.0.2' : '127.0.0.3')));
  });

  it('reuses a host name answer for dnsRefreshRate (60 s), then resolves it again', async () => {
    const b = await backends();
    cleanup.push(() => b.close());
    const clock = createManualClock();
    const lookups: string[] = [];
    const mesh = await meshWith(serviceEntry(resolution, b.port), clock, lookups);
    await call(mesh, `http://storage.example.test:${b.port}/`);
    await clock.advance(59_000);
    await call(mesh, `http://storage.example.test:${b.port}/`);
    expect(lookups).toEqual(['storage.example.test']);
    await clock.advance(1_000);
    await call(mesh, `http://storage.example.test:${b.port}/`);
    expect(lookups).toEqual(['storage.example.test', 'storage.example.test']);
  });

  it('answers 503 UH for a host name DNS does not know', async () => {
    const b = await backends();
    cleanup.push(() => b.close());
    const mesh = await meshWith(serviceEntry(resolution, b.port), createManualClock(), []);
    const r = await call(mesh, `http://nowhere.example.test:${b.port}/`);
    expect([r.status, r.flags]).toEqual([503, ['UH']]);
    expect(b.hits).toEqual([]);
  });

  it("applies the DestinationRule's connection pool to the cluster as a whole, across host names", async () => {
    const b = await backends();
    cleanup.push(() => b.close());
    const dr = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wildcard, namespace: default }
spec:
  host: '*.example.test'
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }
`;
    const mesh = await meshWith(serviceEntry(resolution, b.port) + dr, createManualClock(), []);
    // Both names resolved once, so the calls below wait for no lookup.
    await call(mesh, `http://storage.example.test:${b.port}/`);
    await call(mesh, `http://pubsub.example.test:${b.port}/`);
    b.hold();
    const first = call(mesh, `http://storage.example.test:${b.port}/`);
    const queued = call(mesh, `http://pubsub.example.test:${b.port}/`);
    const overflow = await call(mesh, `http://storage.example.test:${b.port}/`);
    expect([overflow.status, overflow.flags]).toEqual([503, ['UO']]);
    // Released, the first answers and the queued call takes its connection.
    b.release();
    expect((await first).body).toBe('127.0.0.2');
    expect((await queued).body).toBe('127.0.0.3');
  });
});

describe('which host name and port a wildcard cluster connects to', () => {
  it('NONE goes where the URL points (the address the app dialled); DYNAMIC_DNS where the Host header points', async () => {
    const b = await backends();
    cleanup.push(() => b.close());
    const host = { host: `pubsub.example.test:${b.port}` };
    const none = await meshWith(serviceEntry('NONE', b.port), createManualClock(), []);
    expect((await call(none, `http://storage.example.test:${b.port}/`, host)).body).toBe('127.0.0.2');
    const dfp = await meshWith(serviceEntry('DYNAMIC_DNS', b.port), createManualClock(), []);
    expect((await call(dfp, `http://storage.example.test:${b.port}/`, host)).body).toBe('127.0.0.3');
  });

  it("NONE connects to the port's targetPort when it has one (ORIGINAL_DST upstream_port_override)", async () => {
    const se = serviceEntry('NONE', 80).replace('protocol: HTTP }', 'protocol: HTTP, targetPort: 8080 }');
    const h = harness(planOf([...bookinfo(), se]), echoAddress, {
      resolveDns: () => Promise.resolve(['192.0.2.10']),
    });
    expect(await (await h.client.fetch('http://storage.example.test/')).text()).toBe('192.0.2.10:8080');
  });

  it('DYNAMIC_DNS takes the port from the Host header, else 443 when the cluster originates TLS, else 80', async () => {
    // envoy source/extensions/filters/http/dynamic_forward_proxy/proxy_filter.cc: the Host
    // header's port, else default_port, 443 when the cluster's transport socket is secure.
    const tls = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wildcard, namespace: default }
spec:
  host: '*.example.test'
  trafficPolicy: { tls: { mode: SIMPLE } }
`;
    const resolveDns = () => Promise.resolve(['192.0.2.10']);
    const plain = harness(planOf([...bookinfo(), serviceEntry('DYNAMIC_DNS', 8080)]), echoAddress, {
      resolveDns,
    });
    const url = 'http://storage.example.test:8080/';
    expect(await (await plain.client.fetch(url)).text()).toBe('192.0.2.10:8080');
    // A Host header without a port still matches the port's routes; the proxy then dials 80.
    const bare = await plain.client.fetch(url, { headers: { host: 'storage.example.test' } });
    expect(await bare.text()).toBe('192.0.2.10:80');
    const secure = harness(planOf([...bookinfo(), serviceEntry('DYNAMIC_DNS', 80) + tls]), echoAddress, {
      resolveDns,
    });
    await secure.client.fetch('http://storage.example.test/');
    expect(secure.transport.seen.map((s) => s.address)).toEqual(['192.0.2.10:443']);
  });
});
