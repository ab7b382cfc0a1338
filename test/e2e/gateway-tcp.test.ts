import { mkdir, writeFile } from 'node:fs/promises';
import { type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, MeshletError } from '../../packages/core/src/index.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import { SAMPLES, useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { runProxyConfig } from '../../packages/core/src/cli/proxy-config.js';
import { captureIO } from '../../packages/core/test/cli/support.js';
import {
  ALL_V1,
  gatewayMesh as meshOver,
  GATEWAY_AND_DR,
  nc,
  sample,
  tcpEcho as echoServer,
  TCP_ECHO,
  type Cleanup,
} from './support/tcp-echo.js';

// mesh.listenGatewayTcp(): the istio.io TCP traffic-shifting task through meshlet's ingress
// gateway, with Istio's tcp-echo samples (samples/tcp-echo): a Gateway TCP server on 31400,
// a VirtualService `tcp` rule sending everything to v1, then 80/20 to v1/v2
// (gateway.go buildGatewayNetworkFiltersFromTCPRoutes; Envoy's tcp_proxy). Real sockets on
// loopback: the upstreams are tcp-echo's behaviour (each line echoed with a prefix), the
// client is the task's `nc`.

const tmp = useTmpDir();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
const tcpEcho = (prefix: string, tls?: { key: string; cert: string; ca: string }) =>
  echoServer(cleanup, prefix, tls);
const gatewayMesh = (files: Record<string, string>, endpoints: object, extra: object = {}) =>
  meshOver(cleanup, tmp, files, endpoints, extra);

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await createDevCa();
});

describe('mesh.listenGatewayTcp(): the TCP traffic-shifting task', () => {
  it('sends every connection to v1, then 80/20 after the VirtualService changes', async () => {
    const v1 = await tcpEcho('one');
    const v2 = await tcpEcho('two');
    const { mesh, dir } = await gatewayMesh(
      {
        'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
        'gateway.yaml': GATEWAY_AND_DR,
        'vs.yaml': ALL_V1,
      },
      {
        [TCP_ECHO]: [
          { address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } },
          { address: '127.0.0.1', port: v2.port, labels: { app: 'tcp-echo', version: 'v2' } },
        ],
      },
    );
    expect(
      mesh.plan.gateway?.tcp.map((r) => [r.port, r.id, r.destinations.map((d) => [d.cluster, d.weight])]),
    ).toEqual([[31400, 'default/tcp-echo/tcp/0', [[`outbound|9000|v1|${TCP_ECHO}`, 100]]]]);
    const server = await mesh.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    const first = await Promise.all(Array.from({ length: 10 }, (_, i) => nc(port, `hello ${i}`)));
    expect(first).toEqual(Array.from({ length: 10 }, (_, i) => `one hello ${i}\n`));

    const reloaded = new Promise<void>((r) => mesh.on('reload', () => r()));
    await writeFile(path.join(dir, 'vs.yaml'), sample('tcp-echo/tcp-echo-20-v2.yaml'));
    await reloaded;
    const answers: string[] = [];
    for (let i = 0; i < 100; i++) answers.push(await nc(port, 'hello'));
    const ones = answers.filter((a) => a === 'one hello\n').length;
    const twos = answers.filter((a) => a === 'two hello\n').length;
    expect(ones + twos).toBe(100);
    expect(twos).toBeGreaterThanOrEqual(10);
    expect(twos).toBeLessThanOrEqual(30);
  });

  it('closes the connections of a TCP server port no tcp rule routes, and of a cluster with no endpoint', async () => {
    const gateway = GATEWAY_AND_DR.replace(
      '    hosts:\n    - "*"',
      '    hosts:\n    - "*"\n  - port: { number: 31401, name: tcp-other, protocol: TCP }\n    hosts: ["*"]',
    );
    const { mesh } = await gatewayMesh(
      {
        'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
        'gateway.yaml': gateway,
        'vs.yaml': ALL_V1,
      },
      { [TCP_ECHO]: [] },
    );
    // The sample's rule matches port 31400 only.
    expect(mesh.plan.gateway?.tcp.find((r) => r.port === 31401)).toEqual({
      port: 31401,
      id: null,
      virtualService: null,
      destinations: [],
    });
    for (const gatewayPort of [31400, 31401]) {
      const server = await mesh.listenGatewayTcp({ port: gatewayPort, listenPort: 0, host: '127.0.0.1' });
      expect(await nc((server.address() as AddressInfo).port, 'hello')).toBe('');
    }
  });

  it('reaches a mesh workload over mTLS with the gateway identity (ALPN istio)', async () => {
    const certDir = await tmp();
    const own = await issueWorkloadCertificate({
      ca,
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
    });
    await writeWorkloadCertificates(certDir, own, 'istio');
    const echo = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'tcp-echo' });
    const v1 = await tcpEcho('one', { key: echo.keyPem, cert: echo.certChainPem, ca: echo.rootCertPem });
    const { mesh } = await gatewayMesh(
      {
        'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
        'gateway.yaml': GATEWAY_AND_DR,
        'vs.yaml': ALL_V1,
      },
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
    const server = await mesh.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
    expect(await nc((server.address() as AddressInfo).port, 'over mtls')).toBe('one over mtls\n');
    expect(v1.peers).toEqual([
      'URI:spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
    ]);
    expect(v1.alpn).toEqual(['istio']);
  });

  it('refuses a port without a plain TCP server, and a workload no Gateway selects', async () => {
    const { mesh } = await gatewayMesh(
      {
        'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
        'gateway.yaml': GATEWAY_AND_DR,
        'vs.yaml': ALL_V1,
      },
      { [TCP_ECHO]: [] },
    );
    const err = await mesh.listenGatewayTcp({ port: 80 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshletError);
    expect((err as MeshletError).code).toBe('MESHLET_ERR_MESH_OPTIONS');
    expect((err as Error).message).toBe(
      'mesh.listenGatewayTcp: no Gateway server serves TCP or TLS passthrough on port 80 (TCP or TLS passthrough server ports: 31400)',
    );
    const sidecar = await createMesh({
      config: path.join(SAMPLES, 'tcp-echo/tcp-echo-services.yaml'),
      workload: { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep' } },
    });
    cleanup.push(() => sidecar.close());
    await expect(sidecar.listenGatewayTcp()).rejects.toThrow(/default\/sleep is not a gateway/);
  });
});

describe('mesh.listenGatewayTcp(): a TLS server the gateway terminates, then tcp routes', () => {
  // gateway.go createGatewayTCPFilterChainOpts: a TLS (not HTTPS) server in SIMPLE mode gets
  // a filter chain with its certificate, matched by its hosts, and the tcp_proxy of its
  // VirtualService `tcp` route behind it: the client's TLS ends at the gateway.
  const CONFIG = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: echo-tls, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 31443, name: tls-echo, protocol: TLS }
    tls: { mode: SIMPLE, credentialName: echo-cert }
    hosts: [echo.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo-tls, namespace: default }
spec:
  hosts: [echo.example.com]
  gateways: [echo-tls]
  tcp:
  - match: [{ port: 31443 }]
    route: [{ destination: { host: tcp-echo, port: { number: 9000 }, subset: v1 } }]
`;

  it('terminates the client TLS with the credential for its SNI and relays the plaintext to the tcp route', async () => {
    const creds = await tmp();
    const cert = await issueWorkloadCertificate({
      ca,
      namespace: 'default',
      serviceAccount: 'echo',
      dnsNames: ['echo.example.com'],
    });
    await mkdir(path.join(creds, 'echo-cert'));
    await writeFile(path.join(creds, 'echo-cert', 'tls.crt'), cert.certChainPem);
    await writeFile(path.join(creds, 'echo-cert', 'tls.key'), cert.keyPem);
    const v1 = await tcpEcho('one');
    const { mesh } = await gatewayMesh(
      {
        'services.yaml': sample('tcp-echo/tcp-echo-services.yaml'),
        'dr.yaml': GATEWAY_AND_DR,
        'echo-tls.yaml': CONFIG,
      },
      { [TCP_ECHO]: [{ address: '127.0.0.1', port: v1.port, labels: { app: 'tcp-echo', version: 'v1' } }] },
      { admin: { port: 0 } },
    );
    expect(mesh.plan.gateway?.tcp.find((r) => r.port === 31443)?.id).toBe('default/echo-tls/tcp/0');
    const server = await mesh.listenGatewayTcp({
      port: 31443,
      listenPort: 0,
      host: '127.0.0.1',
      credentials: creds,
    });
    const port = (server.address() as AddressInfo).port;
    const talk = (servername: string) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername, ca: ca.rootCertPem });
        let got = '';
        s.on('secureConnect', () => s.end('hello\n'));
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    expect(await talk('echo.example.com')).toBe('one hello\n');
    // istioctl proxy-config secret: the listener's credential under its SDS name.
    const io = captureIO();
    expect(await runProxyConfig(['secret', mesh.admin?.url ?? ''], io)).toBe(0);
    expect(io.out()).toMatch(/^kubernetes:\/\/echo-cert\s+Cert Chain\s+ACTIVE\s+true\s/m);
    // No server claims other.example.com: the handshake fails.
    expect(await talk('other.example.com')).toMatch(/ECONNRESET|alert|handshake/i);
    // No SNI (a client dialling the address): closed before the handshake, no certificate shown.
    const noSni = await new Promise<{ secured: boolean }>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: ca.rootCertPem,
        checkServerIdentity: () => undefined,
      });
      let secured = false;
      s.on('secureConnect', () => {
        secured = true;
        s.end('hello\n');
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve({ secured }));
    });
    expect(noSni.secured).toBe(false);

    // cert-manager renews the secret: new handshakes get the new certificate (Envoy's SDS).
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'echo.example.com', ca: ca.rootCertPem });
        s.on('secureConnect', () => {
          resolve(s.getPeerCertificate().serialNumber);
          s.destroy();
        });
        s.on('error', reject);
      });
    const before = await serial();
    // The two files are written one after the other: a read between them is rejected, then the pair rotates.
    const rotated = new Promise<string>((resolve) =>
      mesh.on('gatewayTls', (e) => {
        if (e.type === 'rotated') resolve(e.type);
      }),
    );
    const renewed = await issueWorkloadCertificate({
      ca,
      namespace: 'default',
      serviceAccount: 'echo',
      dnsNames: ['echo.example.com'],
    });
    await writeFile(path.join(creds, 'echo-cert', 'tls.key'), renewed.keyPem);
    await writeFile(path.join(creds, 'echo-cert', 'tls.crt'), renewed.certChainPem);
    expect(await rotated).toBe('rotated');
    expect(await serial()).not.toBe(before);
    expect(await talk('echo.example.com')).toBe('one hello\n');
  });
});

describe('mesh.listenGatewayTcp(): TLS passthrough by SNI (the ingress-sni-passthrough task)', () => {
  const NGINX = 'my-nginx.default.svc.cluster.local';
  const CONFIG = `apiVersion: v1
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
    hosts: [nginx.example.com, "*.wild.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: nginx, namespace: default }
spec:
  hosts: [nginx.example.com, "*.wild.example.com"]
  gateways: [mygateway]
  tls:
  - match: [{ port: 443, sniHosts: [nginx.example.com] }]
    route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
  - match: [{ port: 443, sniHosts: ["*.wild.example.com"] }]
    route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
`;

  /** A TLS handshake through the gateway with `servername`: the upstream's certificate SANs and its echo, or the error. */
  function hello(port: number, servername: string | undefined, trusted: string): Promise<string> {
    return new Promise((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: trusted,
        // Without SNI the name cannot be checked (the address is no SAN); the chain still is.
        ...(servername === undefined ? { checkServerIdentity: () => undefined } : { servername }),
      });
      let got = '';
      s.on('secureConnect', () => {
        got += `${s.getPeerCertificate().subjectaltname ?? ''}|`;
        s.end('ping\n');
      });
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  }

  /** nginx with its own certificate: answers each read with the SNI it was asked for. */
  async function nginx(cert: { keyPem: string; certChainPem: string }): Promise<Server> {
    const upstream = await new Promise<Server>((resolve) => {
      const server = createTlsServer({ key: cert.keyPem, cert: cert.certChainPem }, (s: TLSSocket) => {
        s.on('data', (d: Buffer) => s.write(`nginx says ${String(s.servername)} ${d.toString()}`));
        s.on('end', () => s.end());
        s.on('error', () => s.destroy());
      });
      server.listen(0, '127.0.0.1', () => resolve(server));
    });
    cleanup.push(() => new Promise<void>((r) => upstream.close(() => r())));
    return upstream;
  }

  it("relays the client's own TLS to the upstream the SNI names; other names are closed", async () => {
    // nginx's own certificate, from a CA the mesh knows nothing of: the gateway never decrypts.
    const nginxCa = await createDevCa({ commonName: 'nginx example CA' });
    const cert = await issueWorkloadCertificate({
      ca: nginxCa,
      namespace: 'default',
      serviceAccount: 'nginx',
      dnsNames: ['nginx.example.com', 'a.wild.example.com'],
    });
    const upstream = await nginx(cert);
    const { mesh } = await gatewayMesh(
      { 'nginx.yaml': CONFIG },
      { [NGINX]: [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port }] },
    );
    expect(mesh.plan.gateway?.tls.map((t) => [t.port, t.chains.map((c) => [c.id, c.sniHosts])])).toEqual([
      [
        443,
        [
          ['default/nginx/tls/0', ['nginx.example.com']],
          ['default/nginx/tls/1', ['*.wild.example.com']],
        ],
      ],
    ]);
    const server = await mesh.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    const trusted = nginxCa.rootCertPem;
    expect(await hello(port, 'nginx.example.com', trusted)).toBe(
      'URI:spiffe://cluster.local/ns/default/sa/nginx, DNS:nginx.example.com, DNS:a.wild.example.com|nginx says nginx.example.com ping\n',
    );
    expect(await hello(port, 'a.wild.example.com', trusted)).toMatch(
      /\|nginx says a\.wild\.example\.com ping\n$/,
    );
    // No chain for the name, or no SNI at all: the connection is closed before any handshake.
    expect(await hello(port, 'other.example.com', trusted)).toBe('ECONNRESET');
    expect(await hello(port, undefined, trusted)).toBe('ECONNRESET');
  });

  it('sends a connection without SNI to a `*` rule, which istiod writes without server names', async () => {
    const nginxCa = await createDevCa({ commonName: 'nginx example CA' });
    const cert = await issueWorkloadCertificate({
      ca: nginxCa,
      namespace: 'default',
      serviceAccount: 'nginx',
      dnsNames: ['any.example.org'],
    });
    const upstream = await nginx(cert);
    const catchAll = CONFIG.replace(
      /hosts: \[nginx\.example\.com, "\*\.wild\.example\.com"\]/g,
      'hosts: ["*"]',
    ).replace(/sniHosts: \["\*\.wild\.example\.com"\]/, 'sniHosts: ["*"]');
    const { mesh } = await gatewayMesh(
      { 'nginx.yaml': catchAll },
      { [NGINX]: [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port }] },
    );
    expect(mesh.plan.gateway?.tls[0]?.chains.map((c) => c.sniHosts)).toEqual([['nginx.example.com'], ['*']]);
    const server = await mesh.listenGatewayTcp({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    expect(await hello(port, undefined, nginxCa.rootCertPem)).toMatch(/\|nginx says false ping\n$/);
    expect(await hello(port, 'any.example.org', nginxCa.rootCertPem)).toMatch(
      /\|nginx says any\.example\.org ping\n$/,
    );
  });
});
