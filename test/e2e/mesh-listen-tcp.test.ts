import { writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMesh,
  type ConnectionDenial,
  type ConnectionRefusal,
  type Mesh,
  type MeshTcpConnectionInfo,
} from '../../packages/core/src/index.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../packages/core/src/identity/dev-ca.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { lineEcho } from '../../packages/core/test/helpers/line-echo.js';
import { startExtAuthzGrpcServer } from '../../packages/core/test/helpers/ext-authz-grpc-server.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { createManualClock } from '../../packages/core/src/runtime/clock.js';
import {
  ALL_V1,
  GATEWAY_AND_DR,
  gatewayMesh,
  nc as ncPort,
  sample,
  type Cleanup,
} from './support/tcp-echo.js';

// mesh.listenTcp(): a workload's TCP ports as the sidecar's inbound tcp_proxy chain serves
// them. The istio.io task "Authorization for TCP traffic" (tasks/security/authorization/
// authz-tcp) with Istio's tcp-echo sample: sleep reaches tcp-echo's ports over mTLS through
// meshlet (mesh.connect), tcp-echo serves them with meshlet, and the task's three policies
// decide, including the two whose `methods` only an HTTP request has. Real sockets and real
// mTLS handshakes on loopback.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let ca: CertificateAuthority;
let sleepCert: IssuedCertificate;
let echoCert: IssuedCertificate;
beforeAll(async () => {
  ca = await createDevCa();
  sleepCert = await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'sleep' });
  echoCert = await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'tcp-echo' });
});

const TCP_ECHO = 'tcp-echo.foo.svc.cluster.local';
const TCP_ECHO_WORKLOAD = {
  name: 'tcp-echo-v1',
  namespace: 'foo',
  serviceAccount: 'tcp-echo',
  labels: { app: 'tcp-echo', version: 'v1' },
};
const SLEEP = { name: 'sleep', namespace: 'foo', serviceAccount: 'sleep', labels: { app: 'sleep' } };

/** Three free loopback ports, standing for the task's 9000, 9001 and 9002. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Istio's tcp-echo Service in `foo`, its ports 9000 and 9001 renumbered; 9002 stays out of it. */
function services(p: readonly number[]): string {
  const all = sample('tcp-echo/tcp-echo-services.yaml');
  const service = all.slice(all.indexOf('apiVersion: v1'), all.indexOf('---', all.indexOf('apiVersion: v1')));
  return service
    .replace('  name: tcp-echo\n', '  name: tcp-echo\n  namespace: foo\n')
    .replace('port: 9000', `port: ${p[0]}`)
    .replace('port: 9001', `port: ${p[1]}`);
}

/** The task's `tcp-policy`, with its `ports` renumbered as the Service's. */
function tcpPolicy(action: string, operation: string, p: readonly number[]): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: tcp-policy, namespace: foo }
spec:
  selector: { matchLabels: { app: tcp-echo } }
  action: ${action}
  rules:
  - to:
    - operation: ${operation.replaceAll('9000', String(p[0])).replaceAll('9001', String(p[1]))}
`;
}

async function certDir(cert: IssuedCertificate): Promise<string> {
  const dir = await tmp();
  await writeWorkloadCertificates(dir, cert, 'istio');
  return dir;
}

/** tcp-echo under meshlet: `hello <line>` for each line, on each of `ports`. */
async function tcpEchoMesh(
  ports: readonly number[],
  files: Record<string, string>,
  extra: object = {},
): Promise<{
  mesh: Mesh;
  dir: string;
  seen: MeshTcpConnectionInfo[];
  refused: ConnectionRefusal[];
  denied: ConnectionDenial[];
}> {
  const dir = await tmp();
  await Promise.all(Object.entries(files).map(([f, text]) => writeFile(path.join(dir, f), text)));
  const mesh = await createMesh({
    config: dir,
    workload: TCP_ECHO_WORKLOAD,
    certs: await certDir(echoCert),
    debounceMs: 10,
    ...extra,
  });
  cleanup.push(() => mesh.close());
  const seen: MeshTcpConnectionInfo[] = [];
  const refused: ConnectionRefusal[] = [];
  const denied: ConnectionDenial[] = [];
  for (const port of ports) {
    const server = await mesh.listenTcp(
      (socket, info) => {
        seen.push(info);
        lineEcho(socket, 'hello');
      },
      port,
      '127.0.0.1',
    );
    server.on('meshConnectionRefused', (r: ConnectionRefusal) => refused.push(r));
    server.on('meshConnectionDenied', (d: ConnectionDenial) => denied.push(d));
  }
  return { mesh, dir, seen, refused, denied };
}

/** sleep, meshed: tcp-echo's endpoints are mesh workloads, so mesh.connect uses Istio mTLS. */
async function sleepMesh(p: readonly number[]): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'services.yaml'), services(p));
  const endpoint = (port: number) => ({
    address: '127.0.0.1',
    port,
    labels: { app: 'tcp-echo', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
    serviceAccount: 'tcp-echo',
  });
  const mesh = await createMesh({
    config: dir,
    workload: SLEEP,
    certs: await certDir(sleepCert),
    endpoints: { [TCP_ECHO]: [endpoint(p[0]!), endpoint(p[1]!)] },
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

/**
 * The task's `echo "port 9000" | nc tcp-echo 9000 | grep "hello" && echo 'connection
 * succeeded' || echo 'connection rejected'`: what came back before the connection closed.
 */
function nc(socket: Socket, line: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    // A refused connection may be reset rather than closed: nothing came back either way.
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
    socket.end(`${line}\n`);
  });
}

async function reach(sleep: Mesh, port: number, host = 'tcp-echo'): Promise<'succeeded' | 'rejected'> {
  const socket = await sleep.connect({ host, port });
  return (await nc(socket, `port ${port}`)).includes('hello') ? 'succeeded' : 'rejected';
}

/** The next reload of `mesh`'s config (a rejected one fails the test). */
function reloaded(mesh: Mesh): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = () => {
      mesh.off('reload', ok).off('rejected', bad);
      resolve();
    };
    const bad = (e: { reasons: readonly string[] }) => {
      mesh.off('reload', ok).off('rejected', bad);
      reject(new Error(e.reasons.join('\n')));
    };
    mesh.on('reload', ok).on('rejected', bad);
  });
}

describe('mesh.listenTcp(): the istio.io TCP authorization task', () => {
  it('ALLOW ports 9000/9001 admits them and not 9002; an ALLOW of `methods` admits nothing; a DENY of it refuses 9000', async () => {
    const p = await freePorts(3);
    const server = await tcpEchoMesh(p, {
      'services.yaml': services(p),
      'policy.yaml': tcpPolicy('ALLOW', '{ ports: ["9000", "9001"] }', p),
    });
    const sleep = await sleepMesh(p);

    // Step 1: ports 9000 and 9001 allowed; 9002, outside the Service, reached directly
    // (sleep's passthrough, plaintext), is not.
    expect(await reach(sleep, p[0]!)).toBe('succeeded');
    expect(await reach(sleep, p[1]!)).toBe('succeeded');
    expect(await reach(sleep, p[2]!, '127.0.0.1')).toBe('rejected');
    // The sleep's identity came over mTLS.
    expect(server.seen.map((s) => s.peer?.principal)).toEqual([
      'cluster.local/ns/foo/sa/sleep',
      'cluster.local/ns/foo/sa/sleep',
    ]);

    // Step 2: `methods` is HTTP only, so the ALLOW rule is left out: nothing is admitted.
    let next = reloaded(server.mesh);
    await writeFile(
      path.join(server.dir, 'policy.yaml'),
      tcpPolicy('ALLOW', '{ methods: ["GET"], ports: ["9000"] }', p),
    );
    await next;
    expect(await reach(sleep, p[0]!)).toBe('rejected');
    expect(await reach(sleep, p[1]!)).toBe('rejected');

    // Step 3: a DENY drops only `methods`, so it refuses every connection to 9000.
    next = reloaded(server.mesh);
    await writeFile(
      path.join(server.dir, 'policy.yaml'),
      tcpPolicy('DENY', '{ methods: ["GET"], ports: ["9000"] }', p),
    );
    await next;
    expect(await reach(sleep, p[0]!)).toBe('rejected');
    expect(await reach(sleep, p[1]!)).toBe('succeeded');
    expect(server.seen).toHaveLength(3);
  });
});

describe('mesh.listenTcp(): PeerAuthentication on a TCP port', () => {
  const strict = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: foo }
spec: { mtls: { mode: STRICT } }
`;

  it('STRICT closes plaintext at the connection and serves mTLS with the peer', async () => {
    const p = await freePorts(2);
    const server = await tcpEchoMesh([p[0]!], { 'services.yaml': services(p), 'pa.yaml': strict });
    const sleep = await sleepMesh(p);
    const plain = connect({ port: p[0]!, host: '127.0.0.1' });
    await new Promise<void>((r) => plain.once('connect', () => r()));
    expect(await nc(plain, 'plain')).toBe('');
    expect(server.refused).toEqual([
      expect.objectContaining({ reason: 'plaintext-in-strict', mode: 'STRICT', port: p[0] }),
    ]);
    expect(await reach(sleep, p[0]!)).toBe('succeeded');
    expect(server.seen).toEqual([
      {
        peer: expect.objectContaining({ principal: 'cluster.local/ns/foo/sa/sleep' }),
        port: p[0],
        mode: 'STRICT',
      },
    ]);
  });

  it('PERMISSIVE serves plaintext, without a peer', async () => {
    const p = await freePorts(2);
    const server = await tcpEchoMesh([p[0]!], { 'services.yaml': services(p) });
    const plain = connect({ port: p[0]!, host: '127.0.0.1' });
    expect(await nc(plain, 'plain')).toBe('hello plain\n');
    expect(server.seen).toEqual([{ peer: null, port: p[0], mode: 'PERMISSIVE' }]);
  });

  it('PERMISSIVE passes TLS that is not Istio mTLS to the application, which terminates it', async () => {
    const p = await freePorts(2);
    const dir = await tmp();
    await writeFile(path.join(dir, 'services.yaml'), services(p));
    const mesh = await createMesh({
      config: dir,
      workload: TCP_ECHO_WORKLOAD,
      certs: await certDir(echoCert),
    });
    cleanup.push(() => mesh.close());
    const app = await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'app-own-tls' });
    const infos: MeshTcpConnectionInfo[] = [];
    await mesh.listenTcp(
      (socket, info) => {
        infos.push(info);
        // The application's own TLS server on the same port: an HTTPS-like one-way TLS client.
        const tls = new TLSSocket(socket, { isServer: true, key: app.keyPem, cert: app.certChainPem });
        tls.on('data', (d: Buffer) => tls.end(`own-tls ${d.toString()}`));
        tls.on('error', () => tls.destroy());
      },
      p[0]!,
      '127.0.0.1',
    );
    const client = tlsConnect({
      port: p[0]!,
      host: '127.0.0.1',
      ca: app.rootCertPem,
      servername: 'localhost',
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['h2'],
    });
    await new Promise<void>((r, j) => client.once('secureConnect', () => r()).once('error', j));
    expect(await nc(client, 'hi')).toBe('own-tls hi\n');
    expect(infos).toEqual([{ peer: null, port: p[0], mode: 'PERMISSIVE' }]);
  });
});

describe('mesh.listenTcp() behind the ingress gateway (the TCP traffic-shifting task, meshlet at both ends)', () => {
  it("admits the gateway's mTLS identity under STRICT and an ALLOW for it, and refuses sleep", async () => {
    const [port] = await freePorts(1);
    // tcp-echo v1 in `default`, as the task deploys it, served by meshlet.
    const echoV1 = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'tcp-echo' });
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'policy.yaml'),
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ingress-only, namespace: default }
spec:
  selector: { matchLabels: { app: tcp-echo } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"] } }]
`,
    );
    await writeFile(path.join(dir, 'services.yaml'), sample('tcp-echo/tcp-echo-services.yaml'));
    const server = await createMesh({
      config: dir,
      workload: { ...TCP_ECHO_WORKLOAD, namespace: 'default' },
      certs: await certDir(echoV1),
    });
    cleanup.push(() => server.close());
    const peers: (string | undefined)[] = [];
    await server.listenTcp(
      (socket, info) => {
        peers.push(info.peer?.principal);
        socket.on('data', (d: Buffer) => socket.write(`one ${d.toString()}`));
        socket.on('end', () => socket.end());
      },
      port!,
      '127.0.0.1',
    );
    const endpoint = {
      address: '127.0.0.1',
      port: port!,
      labels: { app: 'tcp-echo', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
      serviceAccount: 'tcp-echo',
    };
    const gwCerts = await certDir(
      await issueWorkloadCertificate({
        ca,
        namespace: 'istio-system',
        serviceAccount: 'istio-ingressgateway-service-account',
      }),
    );
    const { mesh: gateway } = await gatewayMesh(
      cleanup,
      tmp,
      {
        'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
        'gateway.yaml': GATEWAY_AND_DR,
        'vs.yaml': ALL_V1,
      },
      { 'tcp-echo.default.svc.cluster.local': [endpoint] },
      { certs: gwCerts },
    );
    const listener = await gateway.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
    // The task's `echo hello | nc $INGRESS_HOST $TCP_INGRESS_PORT`.
    expect(await ncPort((listener.address() as AddressInfo).port, 'hello')).toBe('one hello\n');
    expect(peers).toEqual(['cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account']);

    // sleep, in `default` with its own identity, is not the ingress gateway.
    const sleepDir = await tmp();
    await writeFile(path.join(sleepDir, 'services.yaml'), sample('tcp-echo/tcp-echo-services.yaml'));
    const sleep = await createMesh({
      config: sleepDir,
      workload: { ...SLEEP, namespace: 'default' },
      certs: await certDir(
        await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'sleep' }),
      ),
      endpoints: { 'tcp-echo.default.svc.cluster.local': [endpoint] },
    });
    cleanup.push(() => sleep.close());
    expect(await nc(await sleep.connect({ host: 'tcp-echo', port: 9000 }), 'hello')).toBe('');
    expect(peers).toHaveLength(1);
  });
});

describe('mesh.listenTcp(): a server-first protocol and meshConfig protocolDetectionTimeout', () => {
  /**
   * A MySQL-like server (it greets first) and a client that sends nothing, on the mesh's
   * manual clock: the protocol detection timer moves with it, the sockets stay real.
   */
  async function silentClient(meshConfig: object, files: Record<string, string> = {}) {
    const clock = createManualClock();
    const [port, other] = await freePorts(2);
    const server = await tcpEchoMesh(
      [],
      { 'services.yaml': services([port!, other!]), ...files },
      { meshConfig, clock },
    );
    let greeted = 0;
    const listener = await server.mesh.listenTcp(
      (socket) => {
        greeted++;
        socket.end('220 hello\n');
      },
      port!,
      '127.0.0.1',
    );
    const accepted = new Promise<void>((r) => listener.once('connection', () => r()));
    const client = connect({ port: port!, host: '127.0.0.1' });
    client.on('error', () => undefined);
    cleanup.push(() => Promise.resolve(void client.destroy()));
    const heard = new Promise<string>((resolve) => {
      let text = '';
      client.on('data', (d: Buffer) => (text += d.toString()));
      client.on('close', () => resolve(text));
    });
    await accepted;
    return { clock, greeted: () => greeted, heard };
  }

  it('PERMISSIVE waits for the client without one (Istio default 0s), so a server-first greeting never comes', async () => {
    const s = await silentClient({});
    // Short of meshlet's own 10 s handshake bound: the server is still waiting for the client.
    await s.clock.advance(9_000);
    expect(s.greeted()).toBe(0);
  });

  it('PERMISSIVE with a timeout goes on as plaintext, and the server greets first', async () => {
    const s = await silentClient({ protocolDetectionTimeoutMs: 100 });
    await s.clock.advance(100);
    expect(await s.heard).toBe('220 hello\n');
    expect(s.greeted()).toBe(1);
  });

  it('STRICT has no plaintext to go on to: still nothing', async () => {
    const strict = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: foo }
spec: { mtls: { mode: STRICT } }
`;
    const s = await silentClient({ protocolDetectionTimeoutMs: 100 }, { 'pa.yaml': strict });
    await s.clock.advance(9_000);
    expect(s.greeted()).toBe(0);
  });

  it('an mTLS client is still served over mTLS with the timeout set', async () => {
    const p = await freePorts(2);
    const server = await tcpEchoMesh(
      [p[0]!],
      { 'services.yaml': services(p) },
      { meshConfig: { protocolDetectionTimeoutMs: 100 } },
    );
    const sleep = await sleepMesh(p);
    expect(await reach(sleep, p[0]!)).toBe('succeeded');
    expect(server.seen.map((s) => s.peer?.principal)).toEqual(['cluster.local/ns/foo/sa/sleep']);
  });
});

describe('mesh.listenTcp(): lifecycle', () => {
  it('mesh.close() closes its TCP listeners and open connections; a closed mesh refuses listenTcp', async () => {
    const p = await freePorts(2);
    const server = await tcpEchoMesh([p[0]!], { 'services.yaml': services(p) });
    const open = connect({ port: p[0]!, host: '127.0.0.1' });
    const closedByMesh = new Promise<void>((r) => open.once('close', () => r()));
    open.on('error', () => undefined);
    open.write('hold\n');
    await new Promise<void>((r) => open.once('data', () => r()));
    await server.mesh.close();
    await closedByMesh;
    const refused = await new Promise<string>((r) => {
      const s = connect({ port: p[0]!, host: '127.0.0.1' });
      s.once('connect', () => r('connected'));
      s.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    await expect(server.mesh.listenTcp(() => undefined, p[1]!)).rejects.toMatchObject({
      code: 'MESHLET_ERR_MESH_CLOSED',
    });
  });

  it('rejects a port already in use, and a handler that is not a function', async () => {
    const p = await freePorts(2);
    const server = await tcpEchoMesh([p[0]!], { 'services.yaml': services(p) });
    await expect(server.mesh.listenTcp(() => undefined, p[0]!, '127.0.0.1')).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    await expect(server.mesh.listenTcp('echo' as never, p[1]!)).rejects.toMatchObject({
      code: 'MESHLET_ERR_MESH_OPTIONS',
      message: expect.stringContaining('mesh.listenTcp: pass a connection handler'),
    });
  });
});

describe('mesh.listenTcp(): telemetry and events', () => {
  it('reports istio_tcp_* as the destination, a refused connection too, with the access log and denial', async () => {
    const p = await freePorts(2);
    const lines: string[] = [];
    const server = await tcpEchoMesh(
      [p[0]!, p[1]!],
      {
        'services.yaml': services(p),
        'policy.yaml': tcpPolicy('ALLOW', '{ ports: ["9000"] }', p),
      },
      {
        meshConfig: { accessLogFile: '/dev/stdout' },
        telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
      },
    );
    const sleep = await sleepMesh(p);
    expect(await reach(sleep, p[0]!)).toBe('succeeded');
    expect(await reach(sleep, p[1]!)).toBe('rejected');
    await linesBeyond(lines, 1);
    expect(server.denied).toEqual([
      expect.objectContaining({
        port: p[1],
        peer: expect.objectContaining({ principal: 'cluster.local/ns/foo/sa/sleep' }),
        decision: expect.objectContaining({
          stage: 'allow',
          terminationDetails: 'rbac_access_denied_matched_policy[none]',
        }),
      }),
    ]);
    expect(server.refused).toEqual([expect.objectContaining({ reason: 'rbac-denied', port: p[1] })]);

    // Both connections, the refused one too: the stats filter follows the RBAC filter in the
    // chain and reports every connection the chain took when it closes. The source's workload
    // labels come from its TCP metadata exchange frame, read before the RBAC filter decides.
    const closed = await server.mesh.metrics!.getSingleMetric('istio_tcp_connections_closed_total')!.get();
    expect(closed.values.map((v) => v.labels)).toEqual([
      expect.objectContaining({
        reporter: 'destination',
        source_workload: 'sleep',
        source_app: 'sleep',
        source_canonical_service: 'sleep',
        source_principal: 'spiffe://cluster.local/ns/foo/sa/sleep',
        source_workload_namespace: 'foo',
        destination_workload: 'tcp-echo-v1',
        destination_workload_namespace: 'foo',
        destination_principal: 'spiffe://cluster.local/ns/foo/sa/tcp-echo',
        destination_service: TCP_ECHO,
        destination_app: 'tcp-echo',
        destination_version: 'v1',
        request_protocol: 'tcp',
        response_flags: '-',
        connection_security_policy: 'mutual_tls',
      }),
    ]);
    expect(closed.values[0]!.value).toBe(2);
    const received = await server.mesh.metrics!.getSingleMetric('istio_tcp_received_bytes_total')!.get();
    const sent = await server.mesh.metrics!.getSingleMetric('istio_tcp_sent_bytes_total')!.get();
    // `port <p0>\n` in and `hello port <p0>\n` out on the admitted connection; the refused one
    // carried none to the application.
    const line = `port ${p[0]}\n`;
    expect(received.values[0]!.value).toBe(line.length);
    expect(sent.values[0]!.value).toBe(`hello ${line}`.length);
    const denied = await server.mesh.metrics!.getSingleMetric('meshlet_authz_denied_total')!.get();
    expect(denied.values).toEqual([
      expect.objectContaining({ labels: { policy: '-', action: 'ALLOW' }, value: 1 }),
    ]);
    expect(lines.join('\n')).toMatch(/rbac_access_denied_matched_policy\[none\]/);
  });
});

/** The series of `name` in `mesh`'s registry, once one with `labels` has counted `value`. */
async function seriesOnce(
  mesh: Mesh,
  name: string,
  labels: Record<string, string>,
): Promise<Record<string, string | number>> {
  for (let i = 0; i < 200; i++) {
    const got = await mesh.metrics!.getSingleMetric(name)?.get();
    const hit = got?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    if (hit !== undefined) return { ...hit.labels, value: hit.value };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${name} series with ${JSON.stringify(labels)}`);
}

describe('mesh.connect() to mesh.listenTcp(): Istio TCP metadata exchange (ALPN istio-peer-exchange)', () => {
  /** sleep v2, whose registry has tcp-echo's endpoint without a version: only the exchange tells it v1. */
  async function sleepV2(p: readonly number[], extra: object = {}): Promise<Mesh> {
    const dir = await tmp();
    await writeFile(path.join(dir, 'services.yaml'), services(p));
    const mesh = await createMesh({
      config: dir,
      workload: { ...SLEEP, name: 'sleep-v2', labels: { app: 'sleep', version: 'v2' } },
      certs: await certDir(sleepCert),
      endpoints: {
        [TCP_ECHO]: [
          {
            address: '127.0.0.1',
            port: p[0]!,
            labels: { app: 'tcp-echo', 'security.istio.io/tlsMode': 'istio' },
            serviceAccount: 'tcp-echo',
          },
        ],
      },
      ...extra,
    });
    cleanup.push(() => mesh.close());
    return mesh;
  }

  it("labels each side's istio_tcp_* with the other's workload, and counts only the application's bytes", async () => {
    const p = await freePorts(1);
    const server = await tcpEchoMesh([p[0]!], { 'services.yaml': services(p) });
    const sleep = await sleepV2(p);
    const socket = await sleep.connect({ host: 'tcp-echo', port: p[0]! });
    expect(await nc(socket, 'port 9000')).toBe('hello port 9000\n');

    const atServer = await seriesOnce(server.mesh, 'istio_tcp_received_bytes_total', {
      reporter: 'destination',
    });
    expect(atServer).toMatchObject({
      source_workload: 'sleep-v2',
      source_workload_namespace: 'foo',
      source_app: 'sleep',
      source_version: 'v2',
      source_canonical_service: 'sleep',
      source_canonical_revision: 'v2',
      source_principal: 'spiffe://cluster.local/ns/foo/sa/sleep',
      destination_workload: 'tcp-echo-v1',
      value: 'port 9000\n'.length,
    });
    const atClient = await seriesOnce(sleep, 'istio_tcp_sent_bytes_total', { reporter: 'source' });
    expect(atClient).toMatchObject({
      source_workload: 'sleep-v2',
      destination_workload: 'tcp-echo-v1',
      destination_app: 'tcp-echo',
      destination_version: 'v1',
      destination_canonical_revision: 'v1',
      value: 'hello port 9000\n'.length,
    });
    expect((await seriesOnce(sleep, 'istio_tcp_received_bytes_total', { reporter: 'source' }))['value']).toBe(
      'port 9000\n'.length,
    );
  });

  it('PILOT_DISABLE_MX_ALPN: the client offers only `istio`, and the server knows the source by its certificate alone', async () => {
    const p = await freePorts(1);
    const server = await tcpEchoMesh([p[0]!], { 'services.yaml': services(p) });
    const sleep = await sleepV2(p, { istiodFeatures: { disableMxAlpn: true } });
    const socket = await sleep.connect({ host: 'tcp-echo', port: p[0]! });
    expect((socket as TLSSocket).alpnProtocol).toBe(false);
    expect(await nc(socket, 'port 9000')).toBe('hello port 9000\n');
    expect(
      await seriesOnce(server.mesh, 'istio_tcp_received_bytes_total', { reporter: 'destination' }),
    ).toMatchObject({
      source_workload: 'unknown',
      source_app: 'unknown',
      source_principal: 'spiffe://cluster.local/ns/foo/sa/sleep',
      value: 'port 9000\n'.length,
    });
    // The client has only its registry's entry: the endpoint's labels, no workload name.
    expect(await seriesOnce(sleep, 'istio_tcp_sent_bytes_total', { reporter: 'source' })).toMatchObject({
      destination_workload: 'unknown',
      destination_app: 'tcp-echo',
      destination_version: 'unknown',
    });
  });
});

describe("mesh.listenTcp(): CUSTOM with a gRPC provider (Envoy's network ext_authz)", () => {
  it('asks the provider about each connection a CUSTOM rule matches and closes the ones it refuses (UAEX)', async () => {
    let allow = true;
    const authz = await startExtAuthzGrpcServer(() => ({ status: { code: allow ? 0 : 7 } }));
    cleanup.push(() => authz.close());
    const p = await freePorts(2);
    const server = await tcpEchoMesh([p[0]!, p[1]!], {
      'mesh.yaml': istioConfigMap(`extensionProviders:
- name: tcp-authz
  envoyExtAuthzGrpc:
    service: 127.0.0.1
    port: "${authz.port}"`),
      'services.yaml': services(p),
      'policy.yaml': tcpPolicy('CUSTOM', '{ ports: ["9000"] }', p).replace(
        'action: CUSTOM',
        'action: CUSTOM\n  provider: { name: tcp-authz }',
      ),
    });
    const sleep = await sleepMesh(p);
    expect(await reach(sleep, p[0]!)).toBe('succeeded');
    // Port p1 is no CUSTOM rule's: the provider is not asked.
    expect(await reach(sleep, p[1]!)).toBe('succeeded');
    expect(authz.seen).toHaveLength(1);
    const attrs = authz.seen[0]!.attributes;
    expect(attrs.source?.principal).toBe('spiffe://cluster.local/ns/foo/sa/sleep');
    expect(attrs.source?.address?.socket_address?.address).toBe('127.0.0.1');
    expect(attrs.destination?.principal).toBe('spiffe://cluster.local/ns/foo/sa/tcp-echo');
    expect(attrs.destination?.address?.socket_address?.port_value).toBe(p[0]);
    // A connection check carries no request.
    expect(attrs.request?.http?.method ?? '').toBe('');

    allow = false;
    expect(await reach(sleep, p[0]!)).toBe('rejected');
    expect(server.refused).toEqual([expect.objectContaining({ reason: 'ext-authz-denied', port: p[0] })]);
    expect(server.denied[0]!.decision).toMatchObject({ stage: 'custom', flags: ['UAEX'] });
    expect(server.seen).toHaveLength(2);
    const closed = await seriesOnce(server.mesh, 'istio_tcp_connections_closed_total', {
      response_flags: 'UAEX',
    });
    expect(closed).toMatchObject({ reporter: 'destination', value: 1 });
    const denied = await server.mesh.metrics!.getSingleMetric('meshlet_authz_denied_total')!.get();
    expect(denied.values).toEqual([
      expect.objectContaining({ labels: { policy: 'foo/tcp-policy', action: 'CUSTOM' }, value: 1 }),
    ]);
  });
});
