import { connect as netConnect, createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { Mesh } from '../../packages/core/src/index.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
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

// The access log of connections meshlet's ingress gateway proxies as TCP: one line per
// connection when it closes, as Envoy's tcp_proxy access log writes it in Istio's TEXT and
// JSON formats (istio model/telemetry_logging.go): no request, so `"- - -" 0`, the bytes
// each way, the upstream host and cluster, the four addresses, the SNI of a passthrough
// connection; a connection no filter chain takes logged with `NR`.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const FILES = {
  'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
  'gateway.yaml': GATEWAY_AND_DR,
  'vs.yaml': ALL_V1,
};

async function loggingMesh(
  files: Record<string, string>,
  endpoints: object,
  encoding: 'TEXT' | 'JSON',
): Promise<{ mesh: Mesh; lines: string[] }> {
  const lines: string[] = [];
  const { mesh } = await meshOver(cleanup, tmp, files, endpoints, {
    meshConfig: { accessLogFile: '/dev/stdout', accessLogEncoding: encoding },
    telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
  });
  return { mesh, lines };
}

async function listen(mesh: Mesh, port?: number): Promise<number> {
  const server = await mesh.listenGatewayTcp({
    ...(port === undefined ? {} : { port }),
    listenPort: 0,
    host: '127.0.0.1',
  });
  return (server.address() as AddressInfo).port;
}

describe('the access log of gateway TCP connections', () => {
  it("writes Istio's TEXT line for a proxied connection, and UF with the connect error for a refused one", async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const { mesh, lines } = await loggingMesh(
      FILES,
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } }] },
      'TEXT',
    );
    const port = await listen(mesh);
    expect(await nc(port, 'hello')).toBe('one hello\n');
    await linesBeyond(lines, 0);
    const cluster = `outbound|9000|v1|${TCP_ECHO}`;
    expect(lines[0]).toMatch(
      new RegExp(
        String.raw`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "- - -" 0 - - - "-" 6 10 \d+ - "-" "-" "-" "-" ` +
          String.raw`"127\.0\.0\.1:${v1.port}" ${cluster.replace(/[|.]/g, '\\$&')} 127\.0\.0\.1:\d+ 127\.0\.0\.1:${port} 127\.0\.0\.1:\d+ - -$`,
      ),
    );

    // Nothing listens on the endpoint any more: refused (ECONNREFUSED, errno 111 on Linux).
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const deadPort = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const refused = await loggingMesh(
      FILES,
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: deadPort, labels: { app: 'tcp-echo', version: 'v1' } }] },
      'TEXT',
    );
    expect(await nc(await listen(refused.mesh), 'hello')).toBe('');
    await linesBeyond(refused.lines, 0);
    expect(refused.lines[0]).toMatch(
      new RegExp(
        String.raw`"- - -" 0 UF - - "delayed_connect_error:_111" \d+ 0 \d+ - .* "127\.0\.0\.1:${deadPort}" `,
      ),
    );
  });

  it('logs the SNI of a passthrough connection (JSON), and a connection no chain takes with NR', async () => {
    const config = `apiVersion: v1
kind: Service
metadata: { name: my-nginx, namespace: default }
spec: { ports: [{ name: https, port: 443 }] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mygateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: PASSTHROUGH }
    hosts: [nginx.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: nginx, namespace: default }
spec:
  hosts: [nginx.example.com]
  gateways: [mygateway]
  tls:
  - match: [{ port: 443, sniHosts: [nginx.example.com] }]
    route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
`;
    // The upstream: any TCP server reading what comes (the relayed hello) and ending.
    const upstream = createServer((s) => {
      s.resume();
      s.end();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const { mesh, lines } = await loggingMesh(
      { 'nginx.yaml': config },
      {
        'my-nginx.default.svc.cluster.local': [
          { address: '127.0.0.1', port: (upstream.address() as AddressInfo).port },
        ],
      },
      'JSON',
    );
    const port = await listen(mesh);
    const hello = (servername: string) =>
      new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    await hello('nginx.example.com');
    await hello('other.example.com');
    await linesBeyond(lines, 1);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const routed = entries.find((e) => e['requested_server_name'] === 'nginx.example.com');
    expect(routed).toMatchObject({
      method: null,
      path: null,
      protocol: null,
      response_code: 0,
      response_flags: '-',
      upstream_cluster: 'outbound|443||my-nginx.default.svc.cluster.local',
      upstream_host: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      downstream_local_address: `127.0.0.1:${port}`,
    });
    expect(routed!['bytes_received']).toBeGreaterThan(100);
    const unrouted = entries.find((e) => e['requested_server_name'] === 'other.example.com');
    expect(unrouted).toMatchObject({ response_flags: 'NR', upstream_cluster: null, upstream_host: null });
    // Only the routed connection counts in the TCP metrics: no stats filter ran for the other.
    await expect(
      mesh.metrics!.getSingleMetric('istio_tcp_connections_closed_total')!.get(),
    ).resolves.toMatchObject({
      values: [{ value: 1 }],
    });
  });

  it('keeps a plain connection that half-closes open both ways until each side ends', async () => {
    const v1 = await tcpEcho(cleanup, 'one');
    const { mesh, lines } = await loggingMesh(
      FILES,
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } }] },
      'TEXT',
    );
    const port = await listen(mesh);
    const got = await new Promise<string>((resolve, reject) => {
      const s = netConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
      s.write('a\n');
      s.end('b\n');
    });
    expect(got).toBe('one a\none b\n');
    await linesBeyond(lines, 0);
    expect(lines[0]).toContain('"- - -" 0 - - - "-" 4 12 ');
  });
});
