import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket } from 'node:tls';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshletError } from '../../src/errors/meshlet-error.js';
import { createDevCa, issueWorkloadCertificate } from '../../src/identity/dev-ca.js';
import type { MeshTcpConnectionInfo } from '../../src/index.js';
import { createMockMesh, type MockMesh, type MockWorkload } from '../../src/testing/index.js';
import { lineEcho } from '../helpers/line-echo.js';
import { CNN, EGRESS_SERVICE, THROUGH_EGRESS } from '../helpers/egress-gateway-task.js';
import { SAMPLES } from '../helpers/tmp.js';

// TCP in the mock mesh: `mm.tcpService` serves a workload's TCP ports as `mesh.listenTcp`
// does (PeerAuthentication, AuthorizationPolicy compiled for TCP, istio_tcp_* reporter
// destination), and `workload.connect` / `ctx.connect` connect as `mesh.connect` does
// (VirtualService `tcp` routes, the cluster's load balancer, auto mTLS). The istio.io tasks
// "TCP Traffic Shifting" and "Authorization for TCP traffic" with Istio's tcp-echo sample.

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

async function mock(config: string[]): Promise<MockMesh> {
  const mm = await createMockMesh({ config });
  open.push(mm);
  return mm;
}

const SERVICES = path.join(SAMPLES, 'tcp-echo/tcp-echo-services.yaml');

/** The Service of tcp-echo-services.yaml (ports 9000 and 9001; 9002 left out on purpose). */
async function services(): Promise<string> {
  const all = await readFile(SERVICES, 'utf8');
  return all.slice(0, all.indexOf('---', all.indexOf('kind: Service')));
}

/** tcp-echo's server, noting what each connection's handler was told. */
function tcpEcho(prefix: string, seen: MeshTcpConnectionInfo[] = []) {
  return (socket: Duplex, info: MeshTcpConnectionInfo): void => {
    seen.push(info);
    lineEcho(socket, prefix);
  };
}

/** The task's `echo hello | nc tcp-echo 9000`: what came back before the connection closed. */
function nc(socket: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.end(`${line}\n`);
  });
}

async function echoOnce(client: MockWorkload, host: string, port: number, line = 'hello'): Promise<string> {
  return nc(await client.connect({ host, port }), line);
}

/**
 * How many of 100 connections `open` answered from v2 ("two"), checking that each came from
 * v1 or v2: about 20 for tcp-echo-20-v2.yaml (the seeded split gives the same count each run).
 */
async function v2Of100(open: () => Promise<Socket>): Promise<number> {
  const replies: string[] = [];
  for (let i = 0; i < 100; i++) replies.push(await nc(await open(), 'hello'));
  const two = replies.filter((r) => r === 'two hello\n').length;
  expect(replies.filter((r) => r === 'one hello\n').length + two).toBe(100);
  expect(two).toBeGreaterThan(8);
  expect(two).toBeLessThan(32);
  return two;
}

/** tcp-echo v1 ("one") and v2 ("two") on 9000, 9001 and 9002, as the sample's Deployments run them. */
function tcpEchoPods(mm: MockMesh, seen: MeshTcpConnectionInfo[] = []) {
  const ports = [9000, 9001, 9002];
  return {
    v1: mm.tcpService(
      'tcp-echo',
      { labels: { version: 'v1' }, serviceAccount: 'tcp-echo', ports },
      tcpEcho('one', seen),
    ),
    v2: mm.tcpService(
      'tcp-echo',
      { labels: { version: 'v2' }, serviceAccount: 'tcp-echo', ports },
      tcpEcho('two', seen),
    ),
  };
}

const SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo-destination }
spec:
  host: tcp-echo
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

/** tcp-echo-20-v2.yaml's split, bound to the mesh (sidecars) instead of the task's gateway. */
const SHIFT_20_V2 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo }
spec:
  hosts: [tcp-echo]
  tcp:
  - match: [{ port: 9000 }]
    route:
    - { destination: { host: tcp-echo, port: { number: 9000 }, subset: v1 }, weight: 80 }
    - { destination: { host: tcp-echo, port: { number: 9000 }, subset: v2 }, weight: 20 }
`;

function tcpPolicy(action: string, operation: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: tcp-policy }
spec:
  selector: { matchLabels: { app: tcp-echo } }
  action: ${action}
  rules:
  - to:
    - operation: ${operation}
`;
}

describe('mock mesh: TCP traffic shifting (istio.io tasks/traffic-management/tcp-traffic-shifting)', () => {
  it('sends all connections to v1, then 80 % to v1 and 20 % to v2, by the VirtualService tcp route', async () => {
    const mm = await mock([await services()]);
    tcpEchoPods(mm);
    await mm.apply(
      `${SUBSETS}---\n${SHIFT_20_V2.replace('weight: 80', 'weight: 100').replace(/\n.*subset: v2.*\n/, '\n')}`,
    );
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    for (let i = 0; i < 10; i++)
      expect(await echoOnce(sleep, 'tcp-echo', 9000, `world ${i}`)).toBe(`one world ${i}\n`);

    await mm.apply(SHIFT_20_V2);
    const two = await v2Of100(() => sleep.connect({ host: 'tcp-echo', port: 9000 }));
    expect(
      await mm.metric('istio_tcp_connections_opened_total', {
        reporter: 'source',
        destination_version: 'v2',
      }),
    ).toBe(two);
    // Each side labelled with the other's workload, as the sidecars' TCP metadata exchange does.
    expect(
      await mm.metric('istio_tcp_connections_opened_total', {
        reporter: 'destination',
        destination_version: 'v2',
        source_workload: 'sleep',
        source_app: 'sleep',
      }),
    ).toBe(two);
    expect(
      await mm.metric('istio_tcp_connections_opened_total', {
        reporter: 'source',
        destination_workload: 'tcp-echo-v2',
        source_workload: 'sleep',
      }),
    ).toBe(two);

    // Port 9001 has no tcp route: the Service's own cluster, both versions.
    const other = new Set<string>();
    for (let i = 0; i < 20; i++) other.add(await echoOnce(sleep, 'tcp-echo', 9001));
    expect(other).toEqual(new Set(['one hello\n', 'two hello\n']));
  });

  it('logs each connection with where it went; a connection with no endpoint left fails with UH', async () => {
    const mm = await mock([await services()]);
    const { v1, v2 } = tcpEchoPods(mm);
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    await echoOnce(sleep, 'tcp-echo', 9000);
    const first = mm.connections.at(-1);
    expect(first).toMatchObject({
      source: 'default/sleep',
      target: 'tcp-echo:9000',
      flags: [],
      error: null,
    });
    expect(['default/tcp-echo-v1', 'default/tcp-echo-v2']).toContain(first?.destination?.workload);
    expect(first?.destination?.address).toMatch(/^10\.0\.0\.\d+:9000$/);

    v1.stop();
    v2.stop();
    const refused = await sleep.connect({ host: 'tcp-echo', port: 9000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MeshletError);
    expect((refused as MeshletError).code).toBe('MESHLET_ERR_OUTBOUND_CONNECT');
    expect((refused as MeshletError).details['flags']).toEqual(['UH']);
    expect(mm.connections.at(-1)).toMatchObject({
      target: 'tcp-echo:9000',
      destination: null,
      flags: ['UH'],
    });
  });
});

describe('mock mesh: TCP circuit breaking', () => {
  it('refuses a connection over the DestinationRule maxConnections with UO, and admits one once a slot is free', async () => {
    const mm = await mock([
      await services(),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo }
spec:
  host: tcp-echo
  trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } }
`,
    ]);
    tcpEchoPods(mm);
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const first = await sleep.connect({ host: 'tcp-echo', port: 9000 });
    const over = await sleep.connect({ host: 'tcp-echo', port: 9000 }).catch((e: unknown) => e);
    expect((over as MeshletError).details['flags']).toEqual(['UO']);
    expect(mm.connections.at(-1)).toMatchObject({ destination: null, flags: ['UO'] });
    expect(await nc(first, 'hello')).toMatch(/^(one|two) hello\n$/);
    expect(await echoOnce(sleep, 'tcp-echo', 9000)).toMatch(/^(one|two) hello\n$/);
  });
});

describe('mock mesh: Authorization for TCP traffic (istio.io tasks/security/authorization/authz-tcp)', () => {
  it("admits ports 9000 and 9001, refuses 9002, then the task's two policies with `methods`", async () => {
    const mm = await mock([await services()]);
    const seen: MeshTcpConnectionInfo[] = [];
    const { v1 } = tcpEchoPods(mm, seen);
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    // Before any policy: every port, 9002 reached at the pod's address (the passthrough chain).
    expect(await echoOnce(sleep, v1.address, 9002)).toBe('one hello\n');

    await mm.apply(tcpPolicy('ALLOW', '{ ports: ["9000", "9001"] }'));
    expect(await echoOnce(sleep, 'tcp-echo', 9000)).toMatch(/^(one|two) hello\n$/);
    expect(await echoOnce(sleep, 'tcp-echo', 9001)).toMatch(/^(one|two) hello\n$/);
    // Refused at the connection: closed before the application sees a byte.
    const before = seen.length;
    expect(await echoOnce(sleep, v1.address, 9002)).toBe('');
    expect(seen.length).toBe(before);
    expect(await mm.metric('meshlet_authz_denied_total', { action: 'ALLOW' })).toBe(1);

    // An ALLOW rule with an HTTP-only field is left out on TCP: nothing is admitted.
    await mm.apply(tcpPolicy('ALLOW', '{ methods: ["GET"], ports: ["9000"] }'));
    expect(await echoOnce(sleep, 'tcp-echo', 9000)).toBe('');
    // A DENY rule drops the field and keeps `ports`: 9000 refused, 9001 admitted.
    await mm.apply(tcpPolicy('DENY', '{ methods: ["GET"], ports: ["9000"] }'));
    expect(await echoOnce(sleep, 'tcp-echo', 9000)).toBe('');
    expect(await echoOnce(sleep, 'tcp-echo', 9001)).toMatch(/^(one|two) hello\n$/);
    // The admitted connections came over auto mTLS, with sleep's identity.
    expect(seen.at(-1)).toEqual({
      peer: expect.objectContaining({ principal: 'cluster.local/ns/default/sa/sleep' }),
      port: 9001,
      mode: 'PERMISSIVE',
    });
  });

  it('STRICT: closes a client without a sidecar at the connection and admits a meshed one by its principal', async () => {
    const mm = await mock([
      await services(),
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default }
spec: { mtls: { mode: STRICT } }
---
${tcpPolicy('ALLOW', '{ ports: ["9000"] }').replace('  - to:', '  - from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"] } }]\n    to:')}`,
    ]);
    const seen: MeshTcpConnectionInfo[] = [];
    tcpEchoPods(mm, seen);
    const legacy = mm.workload({ name: 'legacy-sleep', mesh: false });
    expect(await echoOnce(legacy, 'tcp-echo', 9000)).toBe('');
    expect(seen).toEqual([]);
    expect(await echoOnce(mm.workload({ serviceAccount: 'sleep' }), 'tcp-echo', 9000)).toMatch(/hello/);
    expect(await echoOnce(mm.workload({ serviceAccount: 'other' }), 'tcp-echo', 9000)).toBe('');
    expect(seen.map((s) => [s.peer?.principal, s.mode])).toEqual([
      ['cluster.local/ns/default/sa/sleep', 'STRICT'],
    ]);
    // The plaintext connection never reached the RBAC filter: no filter chain took it.
    expect(await mm.metric('meshlet_authz_denied_total')).toBe(1);
    expect(
      await mm.metric('istio_tcp_connections_opened_total', {
        reporter: 'destination',
        source_principal: 'spiffe://cluster.local/ns/default/sa/other',
        connection_security_policy: 'mutual_tls',
      }),
    ).toBe(1);
  });
});

describe('mock mesh: TCP from handlers and to pods without a sidecar', () => {
  it('lets an HTTP handler call a TCP service with ctx.connect (Bookinfo ratings v2 and its mongodb)', async () => {
    const mm = await mock([
      `apiVersion: v1
kind: Service
metadata: { name: mongodb, labels: { app: mongodb } }
spec: { ports: [{ port: 27017, name: mongo }], selector: { app: mongodb } }
`,
    ]);
    const seen: MeshTcpConnectionInfo[] = [];
    mm.tcpService('mongodb', { port: 27017 }, (socket, info) => {
      seen.push(info);
      socket.end('{"ratings":{"Reviewer1":5}}');
    });
    const ratings = mm.service(
      'ratings',
      { labels: { version: 'v2' }, serviceAccount: 'bookinfo-ratings-v2', port: 9080 },
      async (_req, ctx) => {
        const socket = await ctx.connect({ host: 'mongodb', port: 27017 });
        return { status: 200, body: await nc(socket, 'find') };
      },
    );
    const res = await mm
      .workload({ serviceAccount: 'reviews' })
      .fetch(`http://${ratings.host}:9080/ratings/0`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"ratings":{"Reviewer1":5}}');
    expect(seen.map((s) => s.peer?.principal)).toEqual(['cluster.local/ns/default/sa/bookinfo-ratings-v2']);
  });

  it('closes the client when the server ends, as net.connect and mesh.connect sockets do', async () => {
    const mm = await mock([await services()]);
    mm.tcpService('tcp-echo', { ports: [9000] }, (socket) => {
      socket.once('data', () => socket.end('bye\n'));
    });
    const socket = await mm.workload({ serviceAccount: 'sleep' }).connect({ host: 'tcp-echo', port: 9000 });
    const got = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.write('hello\n'); // and no end: the server's end alone closes it
    });
    expect(got).toBe('bye\n');
  });

  it('connects in plaintext to a pod without a sidecar; its handler sees no peer and DISABLE', async () => {
    const mm = await mock([await services()]);
    const seen: MeshTcpConnectionInfo[] = [];
    mm.tcpService('tcp-echo', { mesh: false, ports: [9000] }, tcpEcho('legacy', seen));
    expect(await echoOnce(mm.workload({ serviceAccount: 'sleep' }), 'tcp-echo', 9000)).toBe('legacy hello\n');
    expect(seen).toEqual([{ peer: null, port: 9000, mode: 'DISABLE' }]);
  });

  it('refuses bad options and says which service speaks which protocol', async () => {
    const mm = await mock([await services()]);
    expect(() => mm.tcpService('tcp-echo', { ports: [] }, tcpEcho('x'))).toThrow(/ports/);
    expect(() => mm.tcpService('tcp-echo', { ports: [9000] }, 'nope' as never)).toThrow(MeshletError);
    const http = mm.service('httpbin', { port: 8000 }, () => ({ status: 200 }));
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const toHttp = await sleep.connect({ host: http.address, port: 8000 }).catch((e: unknown) => e);
    expect(String((toHttp as Error).message)).toMatch(/serves HTTP/);
    const echo = mm.tcpService('tcp-echo', { ports: [9000] }, tcpEcho('one'));
    const res = await sleep.fetch(`http://${echo.address}:9000/`);
    expect(res.status).toBe(503);
    expect(res.meshlet.flags).toEqual(['UC']);
  });
});

describe('mock mesh: TLS ports routed by SNI', () => {
  it('sends a connection to an HTTPS port where the tls rule for its servername says; other names pass through', async () => {
    const mm = await mock([
      `apiVersion: v1
kind: Service
metadata: { name: my-nginx, labels: { app: my-nginx } }
spec: { ports: [{ port: 443, name: https }], selector: { app: my-nginx } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: my-nginx }
spec:
  host: my-nginx
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: my-nginx }
spec:
  hosts: [my-nginx, "*.example.com"]
  tls:
  - match: [{ port: 443, sniHosts: [a.example.com] }]
    route: [{ destination: { host: my-nginx, subset: v1 } }]
  - match: [{ port: 443, sniHosts: ["*.example.com"] }]
    route: [{ destination: { host: my-nginx, subset: v2 } }]
`,
    ]);
    // The pods' handlers stand for nginx; the mock carries the client's bytes as they are.
    mm.tcpService('my-nginx', { labels: { version: 'v1' }, ports: [443] }, tcpEcho('one'));
    mm.tcpService('my-nginx', { labels: { version: 'v2' }, ports: [443] }, tcpEcho('two'));
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const via = async (servername: string) =>
      nc(await sleep.connect({ host: 'my-nginx', port: 443, servername }), 'hello');
    expect(await via('a.example.com')).toBe('one hello\n');
    expect(await via('b.example.com')).toBe('two hello\n');
    // No chain takes the name: the PassthroughFilterChain sends it to the original
    // destination, my-nginx's ClusterIP, where kube-proxy picks a pod, of any version.
    const passed = await via('other.org');
    expect(['one hello\n', 'two hello\n']).toContain(passed);
    expect(mm.connections.at(-1)).toMatchObject({ target: 'my-nginx:443', flags: [], error: null });
  });

  it('runs the egress gateway task for HTTPS: the TLS goes through the egress gateway to the site, undecrypted', async () => {
    const mm = await createMockMesh({ config: [CNN, EGRESS_SERVICE, THROUGH_EGRESS] });
    open.push(mm);
    // edition.cnn.com with a certificate from a CA the mesh knows nothing of.
    const ca = await createDevCa({ commonName: 'public web CA' });
    const cert = await issueWorkloadCertificate({
      ca,
      namespace: 'web',
      serviceAccount: 'cnn',
      dnsNames: ['edition.cnn.com'],
    });
    const context = createSecureContext({ key: cert.keyPem, cert: cert.certChainPem });
    mm.tcpService('edition.cnn.com', { ports: [443], mesh: false }, (socket) => {
      const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
      lineEcho(tls, 'cnn');
    });
    const egress = mm.gateway('istio-egressgateway', { labels: { istio: 'egressgateway' } });
    const sleep = mm.workload({ name: 'sleep', serviceAccount: 'sleep' });
    const socket = await sleep.connect({ host: 'edition.cnn.com', port: 443 });
    const tls = tlsConnect({ socket, servername: 'edition.cnn.com', ca: ca.rootCertPem });
    expect(await nc(tls as unknown as Socket, 'hello')).toBe('cnn hello\n');
    expect(mm.connections.map((c) => [c.source, c.target, c.destination?.workload])).toEqual([
      ['default/sleep', 'edition.cnn.com:443', `istio-system/${egress.workload.name}`],
    ]);
    // The gateway's own upstream connection, to the site, in its istio_tcp_* (reporter source).
    await expect
      .poll(() => mm.metric('istio_tcp_connections_closed_total', { destination_service: 'edition.cnn.com' }))
      .toBe(1);
  });

  it('refuses an https call a tls rule routes to a pod that serves HTTP in memory, saying so', async () => {
    const mm = await mock([
      `apiVersion: v1
kind: Service
metadata: { name: web, labels: { app: web } }
spec: { ports: [{ port: 443, name: https }], selector: { app: web } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web]
  tls:
  - match: [{ port: 443, sniHosts: [web] }]
    route: [{ destination: { host: web } }]
`,
    ]);
    mm.service('web', { port: 443, tls: true }, () => ({ status: 200 }));
    const err = await mm
      .workload({ serviceAccount: 'sleep' })
      .fetch('https://web/')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MESHLET_ERR_OUTBOUND_CONNECT', details: { flags: ['UF'] } });
    expect((err as Error).message).toMatch(
      /serves HTTP there \(mm\.service\); TCP connections reach mm\.tcpService pods/,
    );
  });
});

describe('mm.gateway(): the TCP traffic-shifting task through the ingress gateway', () => {
  it('routes port 31400 to v1 (tcp-echo-all-v1.yaml), then 80/20 (tcp-echo-20-v2.yaml)', async () => {
    const mm = await mock([await services(), path.join(SAMPLES, 'tcp-echo/tcp-echo-all-v1.yaml')]);
    tcpEchoPods(mm);
    const gw = mm.gateway();
    expect(gw.port).toBe(31400);
    for (let i = 0; i < 10; i++) expect(await nc(await gw.connect(), `world ${i}`)).toBe(`one world ${i}\n`);

    await mm.apply(await readFile(path.join(SAMPLES, 'tcp-echo/tcp-echo-20-v2.yaml'), 'utf8'));
    const two = await v2Of100(() => gw.connect());
    // The gateway reached v2 over mTLS with its own identity.
    expect(
      await mm.metric('istio_tcp_connections_opened_total', {
        reporter: 'destination',
        destination_version: 'v2',
        source_principal: 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
        source_workload: 'istio-ingressgateway',
      }),
    ).toBe(two);
    await expect(gw.fetch('http://tcp-echo/')).rejects.toThrow(/TCP server; use gateway.connect/);
  });

  it('refuses connect on an HTTP server port, and a port no Gateway server has', async () => {
    const mm = await mock([
      await services(),
      path.join(SAMPLES, 'tcp-echo/tcp-echo-all-v1.yaml'),
      path.join(SAMPLES, 'bookinfo-networking/bookinfo-gateway.yaml'),
    ]);
    const http = mm.gateway();
    expect(http.port).toBe(8080);
    await expect(http.connect()).rejects.toThrow(/port 8080 is an HTTP server/);
    expect(() => mm.gateway('other-gateway', { port: 9999, labels: { istio: 'ingressgateway' } })).toThrow(
      /no Gateway server serves HTTP on port 9999/,
    );
    expect(mm.gateway('tcp-gateway', { port: 31400 }).port).toBe(31400);
  });
});
