import { connect, createServer, type AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh } from '../../packages/core/src/index.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { createManualClock } from '../../packages/core/src/runtime/clock.js';
import { promtool, ISTIO_UNIT_LINT } from '../../packages/core/test/helpers/promtool.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import {
  ALL_V1,
  gatewayMesh as meshOver,
  GATEWAY_AND_DR,
  nc,
  sample,
  tcpEcho,
  TCP_ECHO,
  type Cleanup,
} from './support/tcp-echo.js';

// The istio_tcp_* metrics of connections meshlet's ingress gateway proxies as TCP, as
// Istio's stats filter reports a tcp_proxy connection on the client side (reporter
// `source`): the HTTP labels without response_code and grpc_response_status,
// request_protocol `tcp` (istio/proxy testdata/metric/tcp_client_connection_open.yaml.tmpl,
// tcp_client_sent_bytes_unknown.yaml.tmpl); bytes reported every tcp_reporting_duration
// (Telemetry reportingInterval) and at close; Envoy tcp_proxy's response flags.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
const gatewayMesh = (files: Record<string, string>, endpoints: object, extra: object = {}) =>
  meshOver(cleanup, tmp, files, endpoints, extra);

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await createDevCa();
});

const FILES = {
  'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
  'gateway.yaml': GATEWAY_AND_DR,
  'vs.yaml': ALL_V1,
};
const V1_LABELS = { app: 'tcp-echo', version: 'v1' };

/** The mesh-wide Telemetry with one `metrics` entry for the prometheus provider, `rest` its other fields. */
const meshTelemetry = (rest: string) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  metrics:
  - providers: [{ name: prometheus }]
${rest}`;

/** Every sample of `name` as `{labels} value`, sorted. */
async function samples(
  mesh: Mesh,
  name: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const metric = await mesh.metrics?.getSingleMetric(name)?.get();
  return (metric?.values ?? []).map((v) => ({
    labels: v.labels as Record<string, string>,
    value: v.value,
  }));
}

/** The value of `name`'s only series, with its labels. */
async function only(mesh: Mesh, name: string): Promise<{ labels: Record<string, string>; value: number }> {
  const all = await samples(mesh, name);
  expect(all, name).toHaveLength(1);
  return all[0] as { labels: Record<string, string>; value: number };
}

async function listen(mesh: Mesh): Promise<number> {
  const server = await mesh.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
  return (server.address() as AddressInfo).port;
}

/** Waits until `check` passes (metrics land when the gateway sees the close, after the client does). */
async function eventually(check: () => Promise<void>, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** What the labels of the gateway's connections to tcp-echo v1 read, as Istio's template has them. */
const v1Labels = (over: Record<string, string> = {}) => ({
  reporter: 'source',
  source_workload: 'istio-ingressgateway',
  source_canonical_service: 'istio-ingressgateway',
  source_canonical_revision: 'latest',
  source_workload_namespace: 'istio-system',
  source_principal: 'unknown',
  source_app: 'unknown',
  source_version: 'unknown',
  source_cluster: 'Kubernetes',
  destination_workload: 'unknown',
  destination_workload_namespace: 'default',
  destination_principal: 'unknown',
  destination_app: 'tcp-echo',
  destination_version: 'v1',
  destination_service: TCP_ECHO,
  destination_canonical_service: 'tcp-echo',
  destination_canonical_revision: 'v1',
  destination_service_name: 'tcp-echo',
  destination_service_namespace: 'default',
  destination_cluster: 'Kubernetes',
  request_protocol: 'tcp',
  response_flags: '-',
  connection_security_policy: 'unknown',
  ...over,
});

describe('istio_tcp_* metrics of the gateway TCP proxy', () => {
  it('counts each connection opened and closed, and its bytes each way, with Istio labels', async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const { mesh } = await gatewayMesh(FILES, {
      [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: V1_LABELS }],
    });
    const port = await listen(mesh);
    const lines = ['hello 0', 'hello 10', 'hello 200'];
    for (const line of lines) expect(await nc(port, line)).toBe(`one ${line}\n`);
    const received = lines.reduce((n, l) => n + l.length + 1, 0);
    const sent = lines.reduce((n, l) => n + l.length + 5, 0);
    await eventually(async () =>
      expect(await only(mesh, 'istio_tcp_connections_closed_total')).toEqual({
        labels: v1Labels(),
        value: 3,
      }),
    );
    expect(await only(mesh, 'istio_tcp_connections_opened_total')).toEqual({ labels: v1Labels(), value: 3 });
    expect(await only(mesh, 'istio_tcp_received_bytes_total')).toEqual({
      labels: v1Labels(),
      value: received,
    });
    expect(await only(mesh, 'istio_tcp_sent_bytes_total')).toEqual({ labels: v1Labels(), value: sent });
    // No HTTP request went through: no istio_requests_total series.
    expect(await samples(mesh, 'istio_requests_total')).toEqual([]);
    const text = await mesh.metrics!.metrics();
    expect(text).toContain('# TYPE istio_tcp_sent_bytes_total counter');
    const checked = await promtool(text);
    expect(checked.findings.filter((f) => f !== ISTIO_UNIT_LINT)).toEqual([]);
  });

  it('reports both principals over mTLS, the peer from its certificate identity', async () => {
    const certDir = await tmp();
    const own = await issueWorkloadCertificate({
      ca,
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
    });
    await writeWorkloadCertificates(certDir, own, 'istio');
    const cert = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'tcp-echo' });
    const v1 = await tcpEcho(cleanup, 'one', {
      key: cert.keyPem,
      cert: cert.certChainPem,
      ca: cert.rootCertPem,
    });
    const { mesh } = await gatewayMesh(
      FILES,
      {
        [TCP_ECHO]: [
          {
            address: '127.0.0.1',
            port: v1.port,
            labels: { ...V1_LABELS, 'security.istio.io/tlsMode': 'istio' },
            serviceAccount: 'tcp-echo',
          },
        ],
      },
      { certs: certDir },
    );
    expect(await nc(await listen(mesh), 'secret')).toBe('one secret\n');
    const labels = v1Labels({
      source_principal: 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/tcp-echo',
    });
    await eventually(async () =>
      expect(await only(mesh, 'istio_tcp_connections_closed_total')).toEqual({ labels, value: 1 }),
    );
    // 'secret\n' in; 'one secret\n' out: the plaintext bytes, as Envoy's downstream meter counts them.
    expect(await only(mesh, 'istio_tcp_received_bytes_total')).toEqual({ labels, value: 7 });
    expect(await only(mesh, 'istio_tcp_sent_bytes_total')).toEqual({ labels, value: 11 });
  });

  it('reports an open connection every reportingInterval, before it closes', async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const telemetry = meshTelemetry('    reportingInterval: 0.1s\n');
    // The reports run on the mesh's clock: virtual time moves them, the sockets stay real.
    const clock = createManualClock();
    const { mesh } = await gatewayMesh(
      { ...FILES, 'telemetry.yaml': telemetry },
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: V1_LABELS }] },
      { clock },
    );
    const port = await listen(mesh);
    const client = connect({ port, host: '127.0.0.1' });
    cleanup.push(() => Promise.resolve(void client.destroy()));
    const echoed = (n: number) =>
      new Promise<void>((resolve) => {
        let got = '';
        const on = (d: Buffer) => {
          got += d.toString();
          if (got.split('\n').length > n) {
            client.off('data', on);
            resolve();
          }
        };
        client.on('data', on);
      });
    let wait = echoed(1);
    client.write('first\n');
    await wait;
    expect(await samples(mesh, 'istio_tcp_received_bytes_total')).toEqual([]);
    await clock.advance(100);
    expect((await only(mesh, 'istio_tcp_received_bytes_total')).value).toBe(6);
    expect(await only(mesh, 'istio_tcp_connections_opened_total')).toEqual({ labels: v1Labels(), value: 1 });
    expect(await only(mesh, 'istio_tcp_sent_bytes_total')).toEqual({ labels: v1Labels(), value: 10 });
    expect(await samples(mesh, 'istio_tcp_connections_closed_total')).toEqual([]);

    wait = echoed(1);
    client.write('second\n');
    await wait;
    await clock.advance(100);
    expect((await only(mesh, 'istio_tcp_received_bytes_total')).value).toBe(13);
    client.end();
    await eventually(async () =>
      expect(await only(mesh, 'istio_tcp_connections_closed_total')).toEqual({
        labels: v1Labels(),
        value: 1,
      }),
    );
    // Opened once, however many reports the connection made.
    expect((await only(mesh, 'istio_tcp_connections_opened_total')).value).toBe(1);
    expect((await only(mesh, 'istio_tcp_sent_bytes_total')).value).toBe(21);
  });

  it('flags UH (no endpoint), UF (refused, and outlier detection hears it) and UO (maxConnections)', async () => {
    // A port nothing listens on: the connection is refused.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const refused = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));

    const noEndpoint = await gatewayMesh(FILES, { [TCP_ECHO]: [] });
    expect(await nc(await listen(noEndpoint.mesh), 'hello')).toBe('');
    await eventually(async () =>
      expect((await only(noEndpoint.mesh, 'istio_tcp_connections_closed_total')).labels.response_flags).toBe(
        'UH',
      ),
    );
    expect((await only(noEndpoint.mesh, 'istio_tcp_sent_bytes_total')).value).toBe(0);

    const outlier = GATEWAY_AND_DR.replace(
      '  subsets:',
      '  trafficPolicy:\n    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }\n  subsets:',
    );
    expect(outlier).not.toBe(GATEWAY_AND_DR);
    const failing = await gatewayMesh(
      { ...FILES, 'gateway.yaml': outlier },
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: refused, labels: V1_LABELS }] },
    );
    const failingPort = await listen(failing.mesh);
    expect(await nc(failingPort, 'hello')).toBe('');
    await eventually(async () =>
      expect((await only(failing.mesh, 'istio_tcp_connections_closed_total')).labels).toEqual(
        v1Labels({ response_flags: 'UF' }),
      ),
    );
    // The connect failure ejected the only endpoint: the next connection finds no healthy host.
    const ejected = await only(failing.mesh, 'meshlet_outlier_ejections_total');
    expect(ejected.value).toBe(1);

    const v1 = await tcpEcho(cleanup, 'one');
    const limited = GATEWAY_AND_DR.replace(
      '  subsets:',
      '  trafficPolicy:\n    connectionPool: { tcp: { maxConnections: 1 } }\n  subsets:',
    );
    const pool = await gatewayMesh(
      { ...FILES, 'gateway.yaml': limited },
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: V1_LABELS }] },
    );
    const poolPort = await listen(pool.mesh);
    const holder = connect({ port: poolPort, host: '127.0.0.1' });
    cleanup.push(() => Promise.resolve(void holder.destroy()));
    await new Promise<void>((resolve) => {
      holder.once('data', () => resolve());
      holder.write('hold\n');
    });
    expect(await nc(poolPort, 'over the limit')).toBe('');
    await eventually(async () =>
      expect((await only(pool.mesh, 'istio_tcp_connections_closed_total')).labels.response_flags).toBe('UO'),
    );
    holder.end();
    await eventually(async () =>
      expect((await samples(pool.mesh, 'istio_tcp_connections_closed_total')).length).toBe(2),
    );
  });

  it('applies Telemetry overrides to the TCP metrics: disabled, and a tag upserted', async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const telemetry = meshTelemetry(`    overrides:
    - match: { metric: TCP_SENT_BYTES }
      disabled: true
    - match: { metric: TCP_OPENED_CONNECTIONS, mode: CLIENT }
      tagOverrides:
        gateway_port: { value: "'31400'" }
        source_cluster: { operation: REMOVE }
`);
    const { mesh } = await gatewayMesh(
      { ...FILES, 'telemetry.yaml': telemetry },
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: V1_LABELS }] },
    );
    expect(await nc(await listen(mesh), 'hi')).toBe('one hi\n');
    await eventually(async () =>
      expect((await samples(mesh, 'istio_tcp_connections_closed_total')).length).toBe(1),
    );
    expect(await samples(mesh, 'istio_tcp_sent_bytes_total')).toEqual([]);
    const { source_cluster: _dropped, ...rest } = v1Labels();
    expect(await only(mesh, 'istio_tcp_connections_opened_total')).toEqual({
      labels: { ...rest, gateway_port: '31400' },
      value: 1,
    });
  });
});
