import { type AddressInfo, type Socket } from 'node:net';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { isMeshletError, type Mesh } from '../../packages/core/src/index.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { listenersView } from '../../packages/core/src/cli/listeners-view.js';
import {
  CNN,
  EGRESS_HOST,
  EGRESS_SERVICE,
  THROUGH_EGRESS,
} from '../../packages/core/test/helpers/egress-gateway-task.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { gatewayMesh, type Cleanup } from './support/tcp-echo.js';

// mesh.connect() to TLS and HTTPS service ports: the sidecar's outbound listener matches the
// client's SNI against the `tls` rules of the VirtualServices for the mesh (istio tls.go
// buildSidecarOutboundTLSFilterChainOpts) and relays the client's own TLS, undecrypted, to
// the chain's destination; an SNI no chain takes goes to the PassthroughFilterChain. The
// istio.io "Egress gateway for HTTPS traffic" task (egress-gateway TLS passthrough) runs
// with a real egress gateway (mesh.listenGatewayTcp) and a real HTTPS server standing in
// for edition.cnn.com, all on loopback.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let outsideCa: CertificateAuthority;
beforeAll(async () => {
  outsideCa = await createDevCa({ commonName: 'public web CA' });
});

const SLEEP = { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep' } };
const EGRESS = {
  name: 'istio-egressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-egressgateway-service-account',
  labels: { istio: 'egressgateway' },
};
/** An HTTPS server with a certificate for `names` from the public CA: answers with the SNI and path it was asked. */
async function website(
  prefix: string,
  names: string[],
  keepAlive = false,
): Promise<{ port: number; connections: () => number }> {
  const cert = await issueWorkloadCertificate({
    ca: outsideCa,
    namespace: 'web',
    serviceAccount: prefix,
    dnsNames: names,
  });
  let connections = 0;
  const server = createHttpsServer({ key: cert.keyPem, cert: cert.certChainPem }, (req, res) => {
    // Closing after each response by default, so a connection's istio_tcp_* are reported at once.
    if (!keepAlive) res.setHeader('connection', 'close');
    res.end(`${prefix} ${String((req.socket as TLSSocket).servername)} ${req.url ?? ''}`);
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** The application's own HTTPS over a socket from mesh.connect: it trusts the public CA and checks the name. */
function httpsGet(socket: Socket, servername: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ socket, servername, ca: outsideCa.rootCertPem });
    let got = '';
    s.on('secureConnect', () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`),
    );
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', reject);
    // Once the mesh's connection is closed too, its istio_tcp_* are reported.
    socket.on('close', () => resolve(got.slice(got.indexOf('\r\n\r\n') + 4)));
  });
}

async function mesh(workload: object, files: Record<string, string>, endpoints: object, extra: object = {}) {
  return (await gatewayMesh(cleanup, tmp, files, endpoints, { workload, ...extra })).mesh;
}

async function rejection(
  p: Promise<unknown>,
): Promise<{ message: string; details: Record<string, unknown> }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isMeshletError(err)) throw new Error(`expected a MeshletError, got ${String(err)}`);
  expect(err.code).toBe('MESHLET_ERR_OUTBOUND_CONNECT');
  return { message: err.message, details: err.details };
}

async function tcpLabels(m: Mesh): Promise<Record<string, string | number>[]> {
  const opened = await m.metrics!.getSingleMetric('istio_tcp_connections_opened_total')!.get();
  return opened.values.map((v) => v.labels as Record<string, string | number>);
}

/** The task's two workloads: the egress gateway (listening on loopback) and sleep, with the site behind. */
async function egressTask() {
  const cnn = await website('cnn', ['edition.cnn.com']);
  const gateway = await mesh(
    EGRESS,
    { 'cnn.yaml': CNN, 'egress.yaml': THROUGH_EGRESS },
    { 'edition.cnn.com': [{ address: '127.0.0.1', port: cnn.port }] },
  );
  const gw = await gateway.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
  let throughGateway = 0;
  gw.on('connection', () => throughGateway++);
  const sleep = await mesh(
    SLEEP,
    { 'cnn.yaml': CNN, 'egress-svc.yaml': EGRESS_SERVICE, 'egress.yaml': THROUGH_EGRESS },
    {
      [EGRESS_HOST]: [
        {
          address: '127.0.0.1',
          port: (gw.address() as AddressInfo).port,
          labels: { istio: 'egressgateway' },
        },
      ],
    },
  );
  return { cnn, sleep, gateway, through: () => throughGateway };
}

describe('mesh.connect(): TLS ports routed by SNI', () => {
  it('runs the egress gateway task: the SNI edition.cnn.com goes to the egress gateway, which passes the TLS through', async () => {
    const { cnn, sleep, gateway, through } = await egressTask();
    // The sidecar's chain for the SNI is the VirtualService's first tls rule (gateways: mesh).
    expect(
      sleep.plan.outbound.tls?.lookup('edition.cnn.com', 443, 'edition.cnn.com')?.chain?.route,
    ).toMatchObject({
      id: 'default/direct-cnn-through-egress-gateway/tls/0',
      destinations: [{ cluster: `outbound|443|cnn|${EGRESS_HOST}` }],
    });

    // istioctl proxy-config listeners: the gateway Service's own https listener (any name to
    // its default cluster), and the chain on the shared 443 listener.
    expect(listenersView(sleep.plan).filter((r) => r.port === 443)).toEqual([
      { address: '0.0.0.0', port: 443, match: 'ALL', destination: `Cluster: outbound|443||${EGRESS_HOST}` },
      {
        address: '0.0.0.0',
        port: 443,
        match: 'SNI: edition.cnn.com',
        destination: `Cluster: outbound|443|cnn|${EGRESS_HOST}`,
      },
    ]);
    const socket = await sleep.connect({ host: 'edition.cnn.com', port: 443 });
    // The application's TLS reached the website end to end: its certificate verified for
    // the name, through a gateway that never held a key for it.
    expect(await httpsGet(socket, 'edition.cnn.com', '/politics')).toBe('cnn edition.cnn.com /politics');
    expect([through(), cnn.connections()]).toEqual([1, 1]);
    expect((await tcpLabels(sleep)).map((l) => [l['reporter'], l['destination_service']])).toEqual([
      ['source', EGRESS_HOST],
    ]);
    // The gateway reports its own upstream connection once it has closed, a moment later.
    await expect
      .poll(async () => (await tcpLabels(gateway)).map((l) => [l['reporter'], l['destination_service']]))
      .toEqual([['source', 'edition.cnn.com']]);
  });

  it("sends a ServiceEntry's TLS port to its own endpoints for its host name; another SNI is not its chain", async () => {
    const cnn = await website('cnn', ['edition.cnn.com']);
    const endpoints = { 'edition.cnn.com': [{ address: '127.0.0.1', port: cnn.port }] };
    const allowAny = await mesh(SLEEP, { 'cnn.yaml': CNN }, endpoints);
    // No VIP: the port's shared listener holds a chain for the host's name only (tls.go).
    expect(allowAny.plan.outbound.tls?.chains.map((c) => c.sniHosts)).toEqual([['edition.cnn.com']]);
    const socket = await allowAny.connect({ host: 'edition.cnn.com', port: 443 });
    expect(await httpsGet(socket, 'edition.cnn.com', '/world')).toBe('cnn edition.cnn.com /world');
    expect((await tcpLabels(allowAny))[0]).toMatchObject({ destination_service: 'edition.cnn.com' });

    // Another name matches no chain: the PassthroughFilterChain, here BlackHoleCluster.
    const registryOnly = await mesh(SLEEP, { 'cnn.yaml': CNN }, endpoints, {
      meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' },
    });
    const other = await rejection(
      registryOnly.connect({ host: 'edition.cnn.com', port: 443, servername: 'www.cnn.com' }),
    );
    expect(other.details['cluster']).toBe('BlackHoleCluster');
    expect(cnn.connections()).toBe(1);
    // Its own name still is.
    const again = await registryOnly.connect({ host: 'edition.cnn.com', port: 443 });
    expect(await httpsGet(again, 'edition.cnn.com', '/')).toBe('cnn edition.cnn.com /');
  });

  const NGINX = 'my-nginx.default.svc.cluster.local';
  const NGINX_CONFIG = `apiVersion: v1
kind: Service
metadata: { name: my-nginx, namespace: default }
spec: { selector: { app: my-nginx }, ports: [{ name: https, port: 443 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: my-nginx, namespace: default }
spec:
  host: my-nginx
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;
  const BY_SNI = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: my-nginx, namespace: default }
spec:
  hosts: [my-nginx, "*.example.com"]
  tls:
  - match: [{ port: 443, sniHosts: [a.example.com] }, { port: 443, sniHosts: [a.example.com], sourceLabels: { app: sleep } }]
    route: [{ destination: { host: my-nginx, subset: v1 } }]
  - match: [{ port: 443, sniHosts: ["*.example.com"], sourceLabels: { app: other } }]
    route: [{ destination: { host: my-nginx, subset: v1 } }]
  - match: [{ port: 443, sniHosts: ["*.example.com"] }]
    route: [{ destination: { host: my-nginx, subset: v2 } }]
`;

  async function nginxPods(): Promise<{ endpoints: object; v1: () => number; v2: () => number }> {
    const names = ['a.example.com', 'b.example.com', 'deep.b.example.com', 'any.example.org'];
    const v1 = await website('v1', names);
    const v2 = await website('v2', names);
    return {
      endpoints: {
        [NGINX]: [
          { address: '127.0.0.1', port: v1.port, labels: { app: 'my-nginx', version: 'v1' } },
          { address: '127.0.0.1', port: v2.port, labels: { app: 'my-nginx', version: 'v2' } },
        ],
      },
      v1: v1.connections,
      v2: v2.connections,
    };
  }

  it("routes a Service's HTTPS port by the tls rules for this workload: exact name, then the longest wildcard; other names pass through", async () => {
    const pods = await nginxPods();
    const files = { 'nginx.yaml': NGINX_CONFIG, 'vs.yaml': BY_SNI };
    const sleep = await mesh(SLEEP, files, pods.endpoints);
    // The second match of rule 0 repeats the first's SNI: istiod writes one chain; rule 1's
    // sourceLabels leave it out of this workload's listener.
    expect(sleep.plan.outbound.tls?.chains.map((c) => [c.route.id, c.sniHosts])).toEqual([
      ['default/my-nginx/tls/0', ['a.example.com']],
      ['default/my-nginx/tls/2', ['*.example.com']],
    ]);
    const get = async (servername: string) =>
      httpsGet(await sleep.connect({ host: 'my-nginx', port: 443, servername }), servername, '/');
    expect(await get('a.example.com')).toBe('v1 a.example.com /');
    expect(await get('b.example.com')).toBe('v2 b.example.com /');
    expect(await get('deep.b.example.com')).toBe('v2 deep.b.example.com /');
    expect([pods.v1(), pods.v2()]).toEqual([1, 2]);
    // No chain for the name: the original destination (my-nginx:443 itself, which this
    // machine's DNS does not know), not the service's endpoints.
    const passthrough = await rejection(
      sleep.connect({ host: 'my-nginx', port: 443, servername: 'any.example.org' }),
    );
    expect(passthrough.details).toMatchObject({ cluster: 'PassthroughCluster', flags: ['UF'] });
    expect([pods.v1(), pods.v2()]).toEqual([1, 2]);
  });

  it('sends every name, and no SNI, to the default cluster of a Service port no tls rule takes', async () => {
    const pods = await nginxPods();
    const sleep = await mesh(SLEEP, { 'nginx.yaml': NGINX_CONFIG }, pods.endpoints);
    // A Service has its VIP's own listener: one chain without server names.
    expect(sleep.plan.outbound.tls?.lookup('my-nginx', 443, null)?.chain?.sniHosts).toEqual(['*']);
    for (const name of ['a.example.com', 'any.example.org']) {
      const body = await httpsGet(
        await sleep.connect({ host: 'my-nginx', port: 443, servername: name }),
        name,
        '/x',
      );
      expect(body).toMatch(new RegExp(`^v[12] ${name.replace(/\./g, '\\.')} /x$`));
    }
    expect(pods.v1() + pods.v2()).toBe(2);
  });
});

describe("mesh.fetch(): an https call a tls rule routes runs the application's TLS through the tcp_proxy", () => {
  it("runs the egress gateway task's curl: the response comes through the gateway, reported as TCP", async () => {
    const { cnn, sleep, through } = await egressTask();
    const res = await sleep.fetch('https://edition.cnn.com/politics', { ca: outsideCa.rootCertPem });
    expect([res.status, await res.text()]).toEqual([200, 'cnn edition.cnn.com /politics']);
    expect(res.meshlet).toMatchObject({
      route: 'default/direct-cnn-through-egress-gateway/tls/0',
      attempts: 1,
      flags: [],
      upstream: { cluster: `outbound|443|cnn|${EGRESS_HOST}`, host: EGRESS_HOST, subset: 'cnn' },
    });
    expect([through(), cnn.connections()]).toEqual([1, 1]);
    // The sidecar saw a TLS stream: istio_tcp_* for the connection, no istio_requests_total.
    await expect
      .poll(async () => (await tcpLabels(sleep)).map((l) => [l['reporter'], l['destination_service']]))
      .toEqual([['source', EGRESS_HOST]]);
    const requests = await sleep.metrics!.getSingleMetric('istio_requests_total')!.get();
    expect(requests.values).toEqual([]);
  });

  it("fails with the application's TLS error when the server's certificate is not trusted, and checks init.ca's type", async () => {
    const { sleep, cnn } = await egressTask();
    const err = await rejection(sleep.fetch('https://edition.cnn.com/'));
    expect(err.message).toMatch(/^mesh\.fetch: https:\/\/edition\.cnn\.com: the application's TLS or HTTP/);
    expect(err.details).toMatchObject({
      flags: [],
      route: 'default/direct-cnn-through-egress-gateway/tls/0',
    });
    // The handshake reached the website and was refused by the client, not by the mesh.
    expect(cnn.connections()).toBe(0);
    await expect(sleep.fetch('https://edition.cnn.com/', { ca: 42 as never })).rejects.toMatchObject({
      code: 'MESHLET_ERR_OUTBOUND_OPTIONS',
      details: { option: 'ca' },
    });
  });

  it("keeps the application's https connections alive, as its own client would through a sidecar", async () => {
    const site = await website('local', ['localhost'], true);
    const m = await mesh(SLEEP, {}, {});
    for (const path of ['/one', '/two', '/three']) {
      const res = await m.fetch(`https://localhost:${site.port}${path}`, { ca: outsideCa.rootCertPem });
      expect([res.status, await res.text(), res.meshlet.upstream?.cluster]).toEqual([
        200,
        `local localhost ${path}`,
        'PassthroughCluster',
      ]);
    }
    // One connection through the tcp_proxy for the three calls.
    expect(site.connections()).toBe(1);
    // Another trust is another pool: its own connection.
    const other = await createDevCa({ commonName: 'another CA' });
    const both = `${outsideCa.rootCertPem}\n${other.rootCertPem}`;
    expect((await m.fetch(`https://localhost:${site.port}/four`, { ca: both })).status).toBe(200);
    expect(site.connections()).toBe(2);
  });

  it('carries https to a host outside the registry through the PassthroughCluster, trusting init.ca; REGISTRY_ONLY refuses it', async () => {
    const site = await website('local', ['localhost']);
    const m = await mesh(SLEEP, {}, {});
    const res = await m.fetch(`https://localhost:${site.port}/here`, { ca: outsideCa.rootCertPem });
    expect([res.status, await res.text()]).toEqual([200, 'local localhost /here']);
    expect(res.meshlet).toMatchObject({
      route: null,
      upstream: { cluster: 'PassthroughCluster', address: `localhost:${site.port}` },
    });
    // As Istio reports TLS it passes through: istio_tcp_* (PassthroughCluster), no request metric.
    await expect
      .poll(async () => (await tcpLabels(m)).map((l) => l['destination_service_name']))
      .toEqual(['PassthroughCluster']);
    expect((await m.metrics!.getSingleMetric('istio_requests_total')!.get()).values).toEqual([]);
    // mesh.got passes got's https.certificateAuthority on as init.ca.
    const viaGot = await m.got(`https://localhost:${site.port}/got`, {
      https: { certificateAuthority: outsideCa.rootCertPem },
    });
    expect(viaGot.body).toBe('local localhost /got');
    // Without it, Node's roots do not know the CA: the application's TLS fails.
    const untrusted = await rejection(m.fetch(`https://localhost:${site.port}/here`));
    expect(untrusted.details).toMatchObject({ flags: [], route: null });
    expect(untrusted.message).toMatch(/the application's TLS or HTTP on the connection failed/);

    // Under REGISTRY_ONLY the BlackHoleCluster takes it: no HTTP 502, the connection is refused.
    const only = await mesh(SLEEP, {}, {}, { meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' } });
    const blocked = await rejection(
      only.fetch(`https://localhost:${site.port}/here`, { ca: outsideCa.rootCertPem }),
    );
    expect(blocked.details).toMatchObject({ cluster: 'BlackHoleCluster' });
    expect(site.connections()).toBe(2);
  });

  // An https client handed mesh.createConnection expects the connection it gets to be TLS
  // already, and writes its request on it in plaintext. As the application's own TLS through a
  // sidecar (passed through, undecrypted), the request goes out as an https call the
  // application makes (app-tls-call.ts), trusting the client's `ca`: never in plaintext to a
  // port that speaks TLS.
  it("sends an https client on mesh.createConnection as the application's own TLS, never in plaintext", async () => {
    const site = await website('local', ['localhost']);
    const m = await mesh(SLEEP, {}, {});
    const get = (ca?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: 'localhost',
            port: site.port,
            path: '/over-tls',
            createConnection: m.createConnection,
            ...(ca === undefined ? {} : { ca }),
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await get(outsideCa.rootCertPem)).toEqual({ status: 200, body: 'local localhost /over-tls' });
    expect(site.connections()).toBe(1);
    await expect
      .poll(async () => (await tcpLabels(m)).map((l) => l['destination_service_name']))
      .toEqual(['PassthroughCluster']);
    // Without the CA the application's TLS fails, as its own client's would: a 502 naming it.
    const untrusted = await get();
    expect(untrusted.status).toBe(502);
    expect(untrusted.body).toMatch(/TLS/);
  });

  it('fails a wss:// WebSocket on mesh.createConnection with what to dial instead', async () => {
    const m = await mesh(SLEEP, {}, {});
    const ws = new WebSocket('wss://chat.foo:8000/ws', { createConnection: m.createConnection });
    const thrown = await new Promise<unknown>((resolve) => ws.once('error', resolve));
    expect(thrown).toMatchObject({ code: 'MESHLET_ERR_OUTBOUND_URL', details: { option: 'protocol' } });
    expect((thrown as Error).message).toMatch(/wss:\/\/.*ws:\/\//);
  });
});
