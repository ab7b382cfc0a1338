import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isMeshletError, type Mesh } from '../../packages/core/src/index.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { listenersView } from '../../packages/core/src/cli/listeners-view.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { GATEWAY_AND_DR, gatewayMesh, sample, tcpEcho, TCP_ECHO, type Cleanup } from './support/tcp-echo.js';

// mesh.connect(): a TCP connection as the sidecar's outbound tcp_proxy makes it (istio
// tls.go buildSidecarOutboundTCPFilterChainOpts): Istio's tcp-echo samples, a VirtualService
// `tcp` route for the mesh (weights, a match on sourceLabels), the DestinationRule's subsets,
// auto mTLS, istio_tcp_* metrics with reporter "source", and Envoy's failure flags. Real
// sockets on loopback.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await createDevCa();
});

const SLEEP = { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep' } };
const SERVICES = sample('tcp-echo/tcp-echo-services.yaml');
/** tcp-echo's subsets (the sample's DestinationRule; its Gateway selects no sidecar). */
const DR = GATEWAY_AND_DR;
const MESH_VS = (rule: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo-mesh, namespace: default }
spec:
  hosts: [tcp-echo]
  tcp:
${rule}`;

async function sidecar(files: Record<string, string>, endpoints: object, extra: object = {}): Promise<Mesh> {
  return (await gatewayMesh(cleanup, tmp, files, endpoints, { workload: SLEEP, ...extra })).mesh;
}

/** Writes `line`, ends, and reads to the end: what tcp-echo answered. */
function exchange(socket: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
    socket.end(`${line}\n`);
  });
}

async function rejection(
  p: Promise<unknown>,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isMeshletError(err)) throw new Error(`expected a MeshletError, got ${String(err)}`);
  return { code: err.code, message: err.message, details: err.details };
}

describe('mesh.connect(): TCP through the mesh', () => {
  it("reaches a TCP service port's default cluster by its short name, and reports istio_tcp_* as the source", async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const mesh = await sidecar(
      { 'services.yaml': SERVICES },
      {
        [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } }],
      },
    );
    expect(mesh.plan.outbound.tcp?.lookup('tcp-echo', 9000)).toMatchObject({
      id: null,
      destinations: [{ cluster: `outbound|9000||${TCP_ECHO}`, weight: 100 }],
    });
    const socket = await mesh.connect({ host: 'tcp-echo', port: 9000 });
    expect(await exchange(socket, 'hello')).toBe('one hello\n');
    await new Promise((r) => socket.once('close', r));
    const closed = await mesh.metrics!.getSingleMetric('istio_tcp_connections_closed_total')!.get();
    expect(closed.values).toHaveLength(1);
    expect(closed.values[0]!.labels).toMatchObject({
      reporter: 'source',
      source_workload: 'sleep',
      source_app: 'sleep',
      destination_service: TCP_ECHO,
      destination_service_name: 'tcp-echo',
      destination_app: 'tcp-echo',
      destination_version: 'v1',
      request_protocol: 'tcp',
      response_flags: '-',
    });
    const received = await mesh.metrics!.getSingleMetric('istio_tcp_received_bytes_total')!.get();
    const sent = await mesh.metrics!.getSingleMetric('istio_tcp_sent_bytes_total')!.get();
    // What the application wrote ('hello\n') and read ('one hello\n').
    expect([received.values[0]!.value, sent.values[0]!.value]).toEqual([6, 10]);
  });

  it('applies a tcp route by weight to this workload, and not to one its sourceLabels exclude', async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const v2 = await tcpEcho(cleanup, 'two');
    const files = {
      'services.yaml': SERVICES,
      'dr.yaml': DR,
      'vs.yaml': MESH_VS(`  - match: [{ port: 9000, sourceLabels: { app: sleep } }]
    route:
    - destination: { host: tcp-echo, port: { number: 9000 }, subset: v1 }
      weight: 20
    - destination: { host: tcp-echo, port: { number: 9000 }, subset: v2 }
      weight: 80
`),
    };
    const endpoints = {
      [TCP_ECHO]: [
        { address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } },
        { address: '127.0.0.1', port: v2.port, labels: { app: 'tcp-echo', version: 'v2' } },
      ],
    };
    const mesh = await sidecar(files, endpoints);
    expect(mesh.plan.outbound.tcp?.lookup(TCP_ECHO, 9000)?.id).toBe('default/tcp-echo-mesh/tcp/0');
    // meshlet proxy-config listeners shows the tcp_proxy's weighted clusters.
    expect(listenersView(mesh.plan).filter((l) => l.port === 9000)).toEqual([
      {
        address: '0.0.0.0',
        port: 9000,
        match: 'ALL',
        destination: `WeightedClusters: outbound|9000|v1|${TCP_ECHO} 20%, outbound|9000|v2|${TCP_ECHO} 80%`,
      },
    ]);
    const answers: string[] = [];
    for (let i = 0; i < 50; i++)
      answers.push(await exchange(await mesh.connect({ host: 'tcp-echo', port: 9000 }), 'x'));
    const twos = answers.filter((a) => a === 'two x\n').length;
    expect(answers.filter((a) => a === 'one x\n').length + twos).toBe(50);
    expect(twos).toBeGreaterThanOrEqual(32);
    expect(twos).toBeLessThanOrEqual(48);

    // Another workload: the match's sourceLabels exclude it, so the default cluster (both versions).
    const other = await sidecar(files, endpoints, {
      workload: { name: 'curl', namespace: 'default', serviceAccount: 'curl', labels: { app: 'curl' } },
    });
    expect(other.plan.outbound.tcp?.lookup('tcp-echo', 9000)?.id).toBeNull();
    // The other port is untouched by the rule's port match.
    expect(mesh.plan.outbound.tcp?.lookup('tcp-echo', 9001)?.id).toBeNull();
  });

  it('uses Istio mTLS to a mesh workload: the workload identity and ALPN istio', async () => {
    const certDir = await tmp();
    await writeWorkloadCertificates(
      certDir,
      await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'sleep' }),
      'istio',
    );
    const echo = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'tcp-echo' });
    const v1 = await tcpEcho(cleanup, 'one', {
      key: echo.keyPem,
      cert: echo.certChainPem,
      ca: echo.rootCertPem,
    });
    const mesh = await sidecar(
      { 'services.yaml': SERVICES },
      {
        [TCP_ECHO]: [
          {
            address: '127.0.0.1',
            port: v1.port,
            labels: { app: 'tcp-echo', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
            serviceAccount: 'tcp-echo',
          },
        ],
      },
      { certs: certDir },
    );
    const socket = await mesh.connect({ host: 'tcp-echo.default.svc.cluster.local', port: 9000 });
    expect(await exchange(socket, 'secret')).toBe('one secret\n');
    expect(v1.peers).toEqual(['URI:spiffe://cluster.local/ns/default/sa/sleep']);
    expect(v1.alpn).toEqual(['istio']);
  });

  it('rejects with the flag: UH without endpoints, UF when refused; REGISTRY_ONLY refuses other hosts, ALLOW_ANY dials them', async () => {
    const none = await sidecar({ 'services.yaml': SERVICES }, { [TCP_ECHO]: [] });
    expect(await rejection(none.connect({ host: 'tcp-echo', port: 9000 }))).toMatchObject({
      code: 'MESHLET_ERR_OUTBOUND_CONNECT',
      details: { flags: ['UH'] },
    });

    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const dead = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const refused = await sidecar(
      { 'services.yaml': SERVICES },
      {
        [TCP_ECHO]: [{ address: '127.0.0.1', port: dead, labels: { app: 'tcp-echo' } }],
      },
    );
    const uf = await rejection(refused.connect({ host: 'tcp-echo', port: 9000 }));
    expect(uf.details['flags']).toEqual(['UF']);
    expect(uf.message).toMatch(
      /^mesh\.connect: tcp-echo:9000: the upstream connection failed \(.*ECONNREFUSED.*\) \(UF\)$/,
    );

    const outside = await tcpEcho(cleanup, 'outside');
    const allowAny = await sidecar({ 'services.yaml': SERVICES }, { [TCP_ECHO]: [] });
    expect(await exchange(await allowAny.connect({ host: '127.0.0.1', port: outside.port }), 'hi')).toBe(
      'outside hi\n',
    );
    const registryOnly = await sidecar(
      { 'services.yaml': SERVICES },
      { [TCP_ECHO]: [] },
      {
        meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' },
      },
    );
    expect(await rejection(registryOnly.connect({ host: '127.0.0.1', port: outside.port }))).toMatchObject({
      details: { cluster: 'BlackHoleCluster' },
    });
    // A closed mesh connects nothing.
    await none.close();
    expect((await rejection(none.connect({ host: 'tcp-echo', port: 9000 }))).code).toBe(
      'MESHLET_ERR_MESH_CLOSED',
    );
    // The plain client still works beside it (no socket of the mesh was left open).
    const plain = connect({ port: outside.port, host: '127.0.0.1' });
    expect(await exchange(plain, 'plain')).toBe('outside plain\n');
  });
});

describe('mesh.connect(): PassthroughCluster and BlackHoleCluster telemetry', () => {
  // istio.io blog "Monitoring blocked and passthrough external service traffic" (Istio 1.3):
  // a TCP connection through the PassthroughCluster counts in istio_tcp_* with
  // destination_service "unknown" and destination_service_name "PassthroughCluster"; one the
  // BlackHoleCluster takes counts as closed only, as no connection was made.
  const labels = async (mesh: Mesh, name: string) =>
    (await mesh.metrics!.getSingleMetric(name)!.get()).values.map((v) => ({ ...v.labels, value: v.value }));

  it('reports a passthrough connection with its bytes, and a blackholed one as closed only', async () => {
    const outside = await tcpEcho(cleanup, 'outside');
    const allowAny = await sidecar({ 'services.yaml': SERVICES }, { [TCP_ECHO]: [] });
    const socket = await allowAny.connect({ host: '127.0.0.1', port: outside.port });
    expect(await exchange(socket, 'hi')).toBe('outside hi\n');
    await new Promise((r) => socket.once('close', r));
    const expected = {
      reporter: 'source',
      source_workload: 'sleep',
      destination_service: 'unknown',
      destination_service_name: 'PassthroughCluster',
      destination_workload: 'unknown',
      request_protocol: 'tcp',
      response_flags: '-',
      connection_security_policy: 'unknown',
      value: 1,
    };
    expect(await labels(allowAny, 'istio_tcp_connections_opened_total')).toEqual([
      expect.objectContaining(expected),
    ]);
    expect(await labels(allowAny, 'istio_tcp_connections_closed_total')).toEqual([
      expect.objectContaining(expected),
    ]);
    expect((await labels(allowAny, 'istio_tcp_received_bytes_total'))[0]?.value).toBe(3);

    const registryOnly = await sidecar(
      { 'services.yaml': SERVICES },
      { [TCP_ECHO]: [] },
      { meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' } },
    );
    await expect(registryOnly.connect({ host: '127.0.0.1', port: outside.port })).rejects.toMatchObject({
      details: { cluster: 'BlackHoleCluster' },
    });
    expect(await labels(registryOnly, 'istio_tcp_connections_closed_total')).toEqual([
      expect.objectContaining({ ...expected, destination_service_name: 'BlackHoleCluster' }),
    ]);
    expect(await labels(registryOnly, 'istio_tcp_connections_opened_total')).toEqual([]);
  });
});

describe("mesh.connect(): the DestinationRule's connection limits", () => {
  const drWith = (tcp: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo, namespace: default }
spec:
  host: tcp-echo
  trafficPolicy: { connectionPool: { tcp: { ${tcp} } } }
`;

  /** Opens a connection, sees one echo, then waits for the mesh to close it: how long that took. */
  async function heldUntilClosed(mesh: Mesh): Promise<number> {
    const socket = await mesh.connect({ host: 'tcp-echo', port: 9000 });
    cleanup.push(() => Promise.resolve(void socket.destroy()));
    await new Promise<void>((resolve) => {
      socket.once('data', () => resolve());
      socket.write('hi\n');
    });
    const start = Date.now();
    await new Promise((r) => socket.once('close', r));
    return Date.now() - start;
  }

  it('closes an idle connection after idleTimeout, and any connection at maxConnectionDuration (DT)', async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const endpoints = {
      [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } }],
    };
    const idle = await sidecar(
      { 'services.yaml': SERVICES, 'dr.yaml': drWith('idleTimeout: 0.2s') },
      endpoints,
    );
    const idleMs = await heldUntilClosed(idle);
    expect(idleMs).toBeGreaterThanOrEqual(150);
    expect(idleMs).toBeLessThan(2_000);

    const aged = await sidecar(
      { 'services.yaml': SERVICES, 'dr.yaml': drWith('maxConnectionDuration: 0.3s') },
      endpoints,
    );
    const agedMs = await heldUntilClosed(aged);
    expect(agedMs).toBeGreaterThanOrEqual(150);
    expect(agedMs).toBeLessThan(2_000);
    // The connection's metrics carry the flag Envoy's tcp_proxy sets for it.
    await expect
      .poll(async () =>
        (await aged.metrics!.getSingleMetric('istio_tcp_connections_closed_total')!.get()).values.map(
          (v) => v.labels['response_flags'],
        ),
      )
      .toEqual(['DT']);
  });
});
