import http from 'node:http';
import https from 'node:https';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { runProxyConfig } from '../../packages/core/src/cli/proxy-config.js';
import { captureIO } from '../../packages/core/test/cli/support.js';
import { send as rawSend } from '../adapters/support/http.js';
import { twoTeamsGateways } from '../../packages/core/test/helpers/two-teams-gateways.js';

// mesh.listenGateway(): the gateway's listener with the TLS its Gateway servers ask for,
// real handshakes on loopback (istio.io tasks traffic-management/ingress/secure-ingress:
// SIMPLE, several hosts by SNI, MUTUAL; and ISTIO_MUTUAL with the workload certificates).

const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway' },
};

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
beforeAll(async () => {
  ca = await createDevCa();
  otherCa = await createDevCa({ commonName: 'not the gateway CA' });
});

/** A certificate for `dnsName` from `authority`, as a Kubernetes TLS secret's files. */
async function secret(dir: string, dnsName: string, withCa = false, authority = ca): Promise<void> {
  const c = await issueWorkloadCertificate({
    ca: authority,
    namespace: 'istio-system',
    serviceAccount: 'cert',
    dnsNames: [dnsName],
  });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'tls.crt'), c.certChainPem);
  await writeFile(path.join(dir, 'tls.key'), c.keyPem);
  if (withCa) await writeFile(path.join(dir, 'ca.crt'), authority.rootCertPem);
}

async function httpbin(): Promise<number> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    if (req.url === '/xfcc') res.end(String(req.headers['x-forwarded-client-cert'] ?? '(none)'));
    else res.end(`httpbin ${req.url ?? ''} proto=${String(req.headers['x-forwarded-proto'])}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function gatewayMesh(
  yaml: string,
  upstreamPort: number,
  certs?: string,
  credentials?: string,
  admin = false,
): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'gw.yaml'), yaml);
  const mesh = await createMesh({
    config: dir,
    workload: INGRESS,
    endpoints: { 'httpbin.default.svc.cluster.local': [{ address: '127.0.0.1', port: upstreamPort }] },
    ...(certs === undefined ? {} : { certs }),
    ...(credentials === undefined ? {} : { credentials }),
    ...(admin ? { admin: { port: 0 } } : {}),
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

interface Reply {
  status: number;
  body: string;
  san: string | undefined;
}
function get(
  port: number,
  host: string,
  urlPath: string,
  tls: { ca?: string; cert?: string; key?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        servername: host,
        headers: { host, ...tls.headers },
        ca: tls.ca ?? ca.rootCertPem,
        ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
        agent: false,
      },
      (res) => {
        const san = (res.socket as TLSSocket).getPeerCertificate().subjectaltname;
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, san }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { ports: [{ name: http, port: 8000 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: default }
spec:
  hosts: [httpbin.example.com, helloworld.example.com]
  gateways: [istio-system/mygateway]
  http:
  - match: [{ uri: { prefix: /status } }, { uri: { prefix: /delay } }, { uri: { exact: /xfcc } }]
    route: [{ destination: { port: { number: 8000 }, host: httpbin } }]
`;
const gateway = (servers: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mygateway, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
${servers}
---
${SERVICE}`;

describe('mesh.listenGateway(): TLS termination at the ingress gateway', () => {
  it('SIMPLE: serves the credential for each host by SNI and routes the decrypted request', async () => {
    const creds = await tmp();
    await secret(path.join(creds, 'httpbin-credential'), 'httpbin.example.com');
    await secret(path.join(creds, 'helloworld-credential'), 'helloworld.example.com');
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https-httpbin, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]
  - port: { number: 443, name: https-helloworld, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: helloworld-credential }
    hosts: [helloworld.example.com]`),
      await httpbin(),
    );
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1', credentials: creds });
    const port = (server.address() as AddressInfo).port;
    const a = await get(port, 'httpbin.example.com', '/status/418');
    expect(a).toMatchObject({ status: 200, body: 'httpbin /status/418 proto=https' });
    expect(a.san).toContain('DNS:httpbin.example.com');
    const b = await get(port, 'helloworld.example.com', '/status/200');
    expect(b.san).toContain('DNS:helloworld.example.com');
    // A client trusting another CA refuses the gateway's certificate.
    await expect(
      get(port, 'httpbin.example.com', '/status/200', { ca: otherCa.rootCertPem }),
    ).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('follows a rotation of the mounted secret for new handshakes, and keeps the old certificate when the new files are broken', async () => {
    const creds = await tmp();
    const dir = path.join(creds, 'httpbin-credential');
    await secret(dir, 'httpbin.example.com');
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]`),
      await httpbin(),
    );
    const events: string[] = [];
    const next = () =>
      new Promise<void>((resolve) => {
        mesh.on('gatewayTls', function once(e) {
          events.push(e.type === 'rotated' ? 'rotated' : `rejected: ${e.reason}`);
          mesh.off('gatewayTls', once);
          resolve();
        });
      });
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1', credentials: creds });
    const port = (server.address() as AddressInfo).port;
    expect((await get(port, 'httpbin.example.com', '/status/200')).san).not.toContain('v2.example.com');

    // cert-manager renews the secret: the kubelet swaps the volume's files.
    let event = next();
    const renewed = await issueWorkloadCertificate({
      ca,
      namespace: 'istio-system',
      serviceAccount: 'cert',
      dnsNames: ['httpbin.example.com', 'v2.example.com'],
    });
    await writeFile(path.join(dir, 'tls.key'), renewed.keyPem);
    await writeFile(path.join(dir, 'tls.crt'), renewed.certChainPem);
    await event;
    expect(events).toEqual(['rotated']);
    expect((await get(port, 'httpbin.example.com', '/status/200')).san).toContain('DNS:v2.example.com');

    // A half-written certificate is refused; the renewed one stays in use.
    event = next();
    await writeFile(path.join(dir, 'tls.crt'), '-----BEGIN CERTIFICATE-----\nMIIB');
    await event;
    expect(events[1]).toMatch(/^rejected: .*server on port 443: its certificate or key is unusable/);
    const still = await get(port, 'httpbin.example.com', '/status/200');
    expect(still.status).toBe(200);
    expect(still.san).toContain('DNS:v2.example.com');
  });

  it('MUTUAL: a client without a certificate from the credential CA is refused; one with it is served', async () => {
    const creds = await tmp();
    await secret(path.join(creds, 'httpbin-credential'), 'httpbin.example.com', true);
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: MUTUAL, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]`),
      await httpbin(),
    );
    const server = await mesh.listenGateway({
      listenPort: 0,
      host: '127.0.0.1',
      credentials: { 'httpbin-credential': path.join(creds, 'httpbin-credential') },
    });
    const port = (server.address() as AddressInfo).port;
    await expect(get(port, 'httpbin.example.com', '/status/200')).rejects.toThrow();
    const client = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'curl' });
    const stranger = await issueWorkloadCertificate({
      ca: otherCa,
      namespace: 'default',
      serviceAccount: 'curl',
    });
    await expect(
      get(port, 'httpbin.example.com', '/status/200', { cert: stranger.certChainPem, key: stranger.keyPem }),
    ).rejects.toThrow();
    expect(
      await get(port, 'httpbin.example.com', '/status/200', {
        cert: client.certChainPem,
        key: client.keyPem,
      }),
    ).toMatchObject({ status: 200, body: 'httpbin /status/200 proto=https' });
    // gatewayTopology.forwardClientCertDetails unset: SANITIZE_SET (istio gateway.go), so the
    // client's own header is replaced by the gateway's element for the verified certificate,
    // with Subject, Cert, URI and DNS, and By= the URI SAN of the certificate the gateway
    // served (this test's credentials carry one).
    const xfcc = await get(port, 'httpbin.example.com', '/xfcc', {
      cert: client.certChainPem,
      key: client.keyPem,
      headers: {
        'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/prod/sa/admin;URI=spiffe://forged',
      },
    });
    expect(xfcc.body).not.toContain('forged');
    expect(xfcc.body).toMatch(
      /^By=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/cert;Hash=[0-9a-f]{64};Cert="-----BEGIN%20CERTIFICATE-----[^"]+";Subject="[^"]*";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl$/,
    );
  });

  it('MUTUAL: the CA of a "<name>-cacert" secret wins over the credential\'s own ca.crt (secrets.go GetCaCert); createMesh({ credentials }) serves a listener given none', async () => {
    const creds = await tmp();
    const dir = path.join(creds, 'httpbin-credential');
    await secret(dir, 'httpbin.example.com');
    await writeFile(path.join(dir, 'ca.crt'), otherCa.rootCertPem);
    await mkdir(path.join(creds, 'httpbin-credential-cacert'));
    await writeFile(path.join(creds, 'httpbin-credential-cacert', 'ca.crt'), ca.rootCertPem);
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: MUTUAL, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]`),
      await httpbin(),
      undefined,
      creds,
      true,
    );
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    const stranger = await issueWorkloadCertificate({
      ca: otherCa,
      namespace: 'default',
      serviceAccount: 'curl',
    });
    await expect(
      get(port, 'httpbin.example.com', '/status/200', { cert: stranger.certChainPem, key: stranger.keyPem }),
    ).rejects.toThrow();
    const client = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'curl' });
    expect(
      (
        await get(port, 'httpbin.example.com', '/status/200', {
          cert: client.certChainPem,
          key: client.keyPem,
        })
      ).status,
    ).toBe(200);
    // istioctl proxy-config secret on the gateway: the server's certificate and the CA it
    // checks clients against, under the SDS names istiod gives them.
    const io = captureIO();
    expect(await runProxyConfig(['secret', mesh.admin?.url ?? ''], io)).toBe(0);
    expect(
      io
        .out()
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((r) => r.split(/\s{2,}/).slice(0, 4)),
    ).toEqual([
      ['kubernetes://httpbin-credential', 'Cert Chain', 'ACTIVE', 'true'],
      ['kubernetes://httpbin-credential-cacert', 'CA', 'ACTIVE', 'true'],
    ]);
  });

  it('MUTUAL: a "<name>-cacert" secret mounted later takes over the client CA for new handshakes', async () => {
    const creds = await tmp();
    await secret(path.join(creds, 'httpbin-credential'), 'httpbin.example.com', true);
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: MUTUAL, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]`),
      await httpbin(),
      undefined,
      creds,
    );
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    const client = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'curl' });
    const stranger = await issueWorkloadCertificate({
      ca: otherCa,
      namespace: 'default',
      serviceAccount: 'curl',
    });
    const as = (c: { certChainPem: string; keyPem: string }) =>
      get(port, 'httpbin.example.com', '/status/200', { cert: c.certChainPem, key: c.keyPem });
    expect((await as(client)).status).toBe(200);
    await expect(as(stranger)).rejects.toThrow();
    const rotated = new Promise<string>((resolve) => mesh.on('gatewayTls', (e) => resolve(e.type)));
    await mkdir(path.join(creds, 'httpbin-credential-cacert'));
    await writeFile(path.join(creds, 'httpbin-credential-cacert', 'ca.crt'), otherCa.rootCertPem);
    expect(await rotated).toBe('rotated');
    expect((await as(stranger)).status).toBe(200);
    await expect(as(client)).rejects.toThrow();
  });

  it('ISTIO_MUTUAL: terminates with the workload certificates and requires a mesh client certificate', async () => {
    const certDir = await tmp();
    const own = await issueWorkloadCertificate({
      ca,
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
      dnsNames: ['httpbin.example.com'],
    });
    await writeWorkloadCertificates(certDir, own, 'istio');
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: tls, protocol: HTTPS }
    tls: { mode: ISTIO_MUTUAL }
    hosts: [httpbin.example.com]`) +
        // An egress-gateway-style policy: only sleep's identity may pass the gateway.
        `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-sleep, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/sleep] } }] }]
`,
      await httpbin(),
      certDir,
    );
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    await expect(get(port, 'httpbin.example.com', '/status/200')).rejects.toThrow();
    const sleep = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'sleep' });
    const r = await get(port, 'httpbin.example.com', '/status/200', {
      cert: sleep.certChainPem,
      key: sleep.keyPem,
    });
    expect(r).toMatchObject({ status: 200 });
    expect(r.san).toContain(
      'URI:spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
    );
    // The peer the gateway's AuthorizationPolicy sees is the verified client certificate's.
    const other = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'productpage' });
    expect(
      await get(port, 'httpbin.example.com', '/status/200', { cert: other.certChainPem, key: other.keyPem }),
    ).toMatchObject({ status: 403, body: 'RBAC: access denied' });
  });

  it('applies meshConfig tlsDefaults to SIMPLE servers, under the server settings (listener.go applyDownstreamTLSDefaults)', async () => {
    const creds = await tmp();
    await secret(path.join(creds, 'httpbin-credential'), 'httpbin.example.com');
    const meshConfig = `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    tlsDefaults:
      minProtocolVersion: TLSV1_3
---
`;
    const mesh = await gatewayMesh(
      meshConfig +
        gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]
  - port: { number: 8443, name: https-legacy, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: httpbin-credential, minProtocolVersion: TLSV1_2 }
    hosts: [httpbin.example.com]`),
      await httpbin(),
    );
    const listen = async (gatewayPort: number) => {
      const server = await mesh.listenGateway({
        port: gatewayPort,
        listenPort: 0,
        host: '127.0.0.1',
        credentials: creds,
      });
      return (server.address() as AddressInfo).port;
    };
    /** The protocol a client offering at most `max` negotiates, or the handshake error. */
    const negotiate = (port: number, max: 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port,
          servername: 'httpbin.example.com',
          ca: ca.rootCertPem,
          maxVersion: max,
        });
        socket.on('secureConnect', () => {
          resolve(socket.getProtocol() ?? '?');
          socket.end();
        });
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    const strict = await listen(443);
    const legacy = await listen(8443);
    expect(await negotiate(strict, 'TLSv1.3')).toBe('TLSv1.3');
    expect(await negotiate(strict, 'TLSv1.2')).toMatch(/ALERT_PROTOCOL_VERSION/);
    expect(await negotiate(legacy, 'TLSv1.2')).toBe('TLSv1.2');
  });

  it('plain HTTP servers get an HTTP listener; mesh.close() closes it', async () => {
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*"]`),
      await httpbin(),
    );
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    const res = await rawSend(port, {
      method: 'GET',
      path: '/status/200',
      headers: { host: 'httpbin.example.com' },
    });
    expect([res.status, res.body]).toEqual([200, 'httpbin /status/200 proto=http']);
    await mesh.close();
    expect(server.listening).toBe(false);
  });

  it('refuses what it cannot serve, naming the Gateway, port and what to do', async () => {
    const missing = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]`),
      await httpbin(),
    );
    await expect(missing.listenGateway({ listenPort: 0, host: '127.0.0.1' })).rejects.toThrow(
      /Gateway istio-system\/mygateway server on port 443: credentialName "httpbin-credential" needs its secret mounted/,
    );
    const spki = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: MUTUAL, credentialName: c, verifyCertificateSpki: ["abc="] }
    hosts: [httpbin.example.com]`),
      await httpbin(),
    );
    await expect(
      spki.listenGateway({ listenPort: 0, host: '127.0.0.1', credentials: await tmp() }),
    ).rejects.toThrow(/tls\.verifyCertificateSpki is not supported by meshlet's gateway/);
    const noCa = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: MUTUAL, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]`),
      await httpbin(),
    );
    const creds = await tmp();
    await secret(path.join(creds, 'httpbin-credential'), 'httpbin.example.com');
    await expect(
      noCa.listenGateway({ listenPort: 0, host: '127.0.0.1', credentials: creds }),
    ).rejects.toThrow(/MUTUAL needs the CA that client certificates chain to/);
  });
});

describe('mesh.listenGateway(): each HTTPS server routes with its own route configuration', () => {
  // Two teams' Gateways on 443, each host with its own certificate and VirtualService.
  // istiod gives each server a filter chain matched by its hosts (SNI) and its own RDS
  // `https.443.<port name>.<gateway>.<namespace>` (gateway.go gatewayRDSRouteName), so a
  // request reaches only the virtual hosts of the server its TLS connection chose.
  const TWO_TEAMS = twoTeamsGateways({ rewrite: true });

  /** One request with `servername` for SNI and `host` for the Host header (both checked against the certificate of `servername`). */
  function sniRequest(port: number, servername: string, host: string): Promise<Reply | string> {
    return new Promise((resolve) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          headers: { host },
          ca: ca.rootCertPem,
          agent: false,
          servername,
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, san: undefined }));
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
  }

  it('answers a Host another server serves 404, and refuses an unknown SNI and a client without SNI', async () => {
    const creds = await tmp();
    await secret(path.join(creds, 'cert-a'), 'a.example.com');
    await secret(path.join(creds, 'cert-b'), 'b.example.com');
    const mesh = await gatewayMesh(TWO_TEAMS, await httpbin());
    expect(mesh.plan.gateway?.servers.map((s) => s.routeName)).toEqual([
      'https.443.https-a.gw-a.istio-system',
      'https.443.https-b.gw-b.istio-system',
    ]);
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1', credentials: creds });
    const port = (server.address() as AddressInfo).port;
    expect(await sniRequest(port, 'a.example.com', 'a.example.com')).toMatchObject({
      status: 200,
      body: 'httpbin /team-a proto=https',
    });
    expect(await sniRequest(port, 'b.example.com', 'b.example.com')).toMatchObject({
      status: 200,
      body: 'httpbin /team-b proto=https',
    });
    // b's host over a's connection: not in a's route configuration.
    expect(await sniRequest(port, 'a.example.com', 'b.example.com')).toMatchObject({ status: 404 });
    // No filter chain claims c.example.com; none takes a client without SNI.
    expect(await sniRequest(port, 'c.example.com', 'c.example.com')).toMatch(/ECONNRESET|alert|handshake/i);
    // https.request would send the Host header as SNI: a raw TLS client sends none. Envoy's
    // filter chain match runs on the ClientHello, so the connection is closed before any
    // handshake: no certificate of any server is shown to it.
    expect(await withoutSni(port)).toBe('');
    expect(handshakes.at(-1)).toBe(false);
  });

  /** Whether each `withoutSni` client completed a TLS handshake. */
  const handshakes: boolean[] = [];

  /** A TLS client that sends no SNI, then an HTTP request: what came back before the close. */
  function withoutSni(port: number): Promise<string> {
    return new Promise((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: ca.rootCertPem,
        checkServerIdentity: () => undefined,
      });
      let got = '';
      let secured = false;
      s.on('secureConnect', () => {
        secured = true;
        s.write('GET /status/200 HTTP/1.1\r\nhost: httpbin.example.com\r\nconnection: close\r\n\r\n');
      });
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('error', () => undefined);
      s.on('close', () => {
        handshakes.push(secured);
        resolve(got);
      });
    });
  }

  it('lets a server with host "*" take a client without SNI', async () => {
    const creds = await tmp();
    await secret(path.join(creds, 'any-credential'), 'any.example.com');
    const mesh = await gatewayMesh(
      gateway(`  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: any-credential }
    hosts: ["*"]`),
      await httpbin(),
    );
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1', credentials: creds });
    const port = (server.address() as AddressInfo).port;
    const answer = await withoutSni(port);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toContain('httpbin /status/200 proto=https');
  });
});
