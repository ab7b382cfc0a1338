import { createHash, X509Certificate } from 'node:crypto';
import { Agent as HttpAgent, get as httpGet } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { issueWorkloadCertificate } from '../../../src/identity/dev-ca.js';
import type { MeshPlan } from '../../../src/compile/plan-types.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { sharedCa } from '../../identity/support.js';
import {
  certlessClient,
  certSourceFor,
  connectionError,
  httpbin,
  ISTIO_CLIENT_ALPN,
  keepAliveTlsAgent,
  meshClient,
  planFor,
  plainGet,
  startServer,
  tlsGet,
  type ClientTls,
  type Echo,
  type Workload,
} from './support.js';

// X-Forwarded-Client-Cert as Envoy's connection manager forwards it: envoy
// source/common/http/conn_manager_utility.cc mutateXfccRequestHeader (the modes, `URI=`),
// source/extensions/filters/network/http_connection_manager/config.cc (the detail order
// Cert, Chain, Subject, URI, DNS), source/common/tls/connection_info_impl_base.cc
// urlEncodedPemEncodedPeerCertificate (the url-encoded PEM). Which mode and details Istio
// gives: pilot/pkg/networking/core/listener_inbound.go (a sidecar: proxyHeaders) and
// gateway.go (a gateway: gatewayTopology.forwardClientCertDetails, Subject/Cert/URI/DNS).

const FORGED = 'By=spiffe://evil;URI=spiffe://cluster.local/ns/x/sa/admin';
const FOO = httpbin('foo');
const MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'] as const;

/** The plan of `workload` under the `istio` ConfigMap holding `meshYaml`. */
function meshPlan(meshYaml: string, workload: Workload = FOO): MeshPlan {
  return planFor(workload, [{ text: istioConfigMap(meshYaml) }]);
}

const sidecarMode = (mode: string) =>
  meshPlan(`defaultConfig:\n  proxyHeaders:\n    forwardedClientCert: ${mode}`);

function hashOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** Undo Envoy's five replacements. */
function urlDecodedPem(value: string): string {
  return value
    .replace(/%0A/g, '\n')
    .replace(/%20/g, ' ')
    .replace(/%2B/g, '+')
    .replace(/%2F/g, '/')
    .replace(/%3D/g, '=');
}

/** Split the PEM certificates of a bundle, each with its trailing newline. */
function pems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----\n[\s\S]*?-----END CERTIFICATE-----\n/g) ?? [];
}

/** Our element for the `bar/sleep` mesh client under Istio's sidecar default details. */
async function sleepElement(): Promise<string> {
  const client = await meshClient('bar', 'sleep');
  return `By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=${hashOf(client.cert!)};Subject="";URI=spiffe://cluster.local/ns/bar/sa/sleep`;
}

/** GET over TLS with exactly the given client options (no mesh root: the client builds no chain). */
function rawTlsGet(port: number, options: { key: string; cert: string }): Promise<Echo> {
  // An Istio client's ALPN: the port is PERMISSIVE (https does not type tls.connect's ALPN option).
  const request: HttpsRequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
    host: '127.0.0.1',
    port,
    path: '/',
    ...options,
    ALPNProtocols: [...ISTIO_CLIENT_ALPN],
    rejectUnauthorized: false,
    agent: false,
  };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(request, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as Echo));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('X-Forwarded-Client-Cert per proxyHeaders.forwardedClientCert (sidecar)', () => {
  const expected: Record<(typeof MODES)[number], (own: string) => string | null> = {
    SANITIZE: () => null,
    FORWARD_ONLY: () => FORGED,
    APPEND_FORWARD: (own) => `${FORGED},${own}`,
    SANITIZE_SET: (own) => own,
    ALWAYS_FORWARD_ONLY: () => FORGED,
  };

  it.each(MODES)('%s over mTLS gives the application the header Envoy forwards', async (mode) => {
    const plan = sidecarMode(mode);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const reply = await tlsGet(port, await meshClient('bar', 'sleep'), {
      headers: { 'X-Forwarded-Client-Cert': FORGED },
    });
    const want = expected[mode](await sleepElement());
    expect(reply.body.xfcc).toBe(want);
    expect(reply.body.rawXfcc).toEqual(want === null ? [] : [want]);
    // Identity is the handshake's whatever the header says.
    expect(reply.body.peer).toMatchObject({ principal: 'cluster.local/ns/bar/sa/sleep' });
  });

  it.each(MODES)(
    '%s over plaintext (PERMISSIVE): only ALWAYS_FORWARD_ONLY keeps the header',
    async (mode) => {
      const plan = sidecarMode(mode);
      const { port } = await startServer({
        getPlan: () => plan,
        certs: await certSourceFor('foo', 'httpbin'),
      });
      const reply = await plainGet(port, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
      const want = mode === 'ALWAYS_FORWARD_ONLY' ? FORGED : null;
      expect(reply.body).toMatchObject({ peer: null, xfcc: want, rawXfcc: want === null ? [] : [want] });
    },
  );

  it.each(['APPEND_FORWARD', 'SANITIZE_SET', 'FORWARD_ONLY'])(
    '%s: a forged header over TLS without a client certificate never reaches the app',
    async (mode) => {
      // The mTLS chain requires a client certificate (istio authn/utils BuildInboundTLS):
      // the handshake is refused before any header is read.
      const plan = sidecarMode(mode);
      const { port, refusals } = await startServer({
        getPlan: () => plan,
        certs: await certSourceFor('foo', 'httpbin'),
      });
      await connectionError(
        tlsGet(port, await certlessClient(), { headers: { 'X-Forwarded-Client-Cert': FORGED } }),
      );
      await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['no-client-certificate']);
    },
  );

  it('APPEND_FORWARD (the default) adds the element alone for an mTLS caller that sent none', async () => {
    const plan = planFor(FOO);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const reply = await tlsGet(port, await meshClient('bar', 'sleep'));
    expect(reply.body.xfcc).toBe(await sleepElement());
    expect(reply.body.rawXfcc).toEqual([await sleepElement()]);
  });

  it('reads the mode per request, with the element made at the handshake', async () => {
    let plan = sidecarMode('APPEND_FORWARD');
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const agent = keepAliveTlsAgent();
    try {
      const client = await meshClient('bar', 'sleep');
      const headers = { 'X-Forwarded-Client-Cert': FORGED };
      const first = await tlsGet(port, client, { headers, agent });
      plan = sidecarMode('SANITIZE_SET');
      const second = await tlsGet(port, client, { headers, agent });
      expect(second.localPort).toBe(first.localPort);
      expect(first.body.xfcc).toBe(`${FORGED},${await sleepElement()}`);
      expect(second.body.xfcc).toBe(await sleepElement());
    } finally {
      agent.destroy();
    }
  });

  it('does not read the plan for a plaintext request without the header', async () => {
    const plan = planFor(FOO);
    let reads = 0;
    const { port } = await startServer({
      getPlan: () => {
        reads += 1;
        return plan;
      },
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = (headers?: Record<string, string>) =>
        new Promise<void>((resolve, reject) => {
          httpGet({ host: '127.0.0.1', port, path: '/', agent, headers }, (res) => {
            res.resume();
            res.on('end', resolve);
          }).on('error', reject);
        });
      await get();
      const afterConnection = reads;
      await get();
      expect(reads).toBe(afterConnection);
      await get({ 'X-Forwarded-Client-Cert': FORGED });
      expect(reads).toBe(afterConnection + 1);
    } finally {
      agent.destroy();
    }
  });
});

describe('X-Forwarded-Client-Cert element per setCurrentClientCertDetails', () => {
  it('writes By, Hash, Cert, Chain, Subject, URI, DNS in that order, the PEMs url-encoded', async () => {
    const plan = meshPlan(`defaultConfig:
  proxyHeaders:
    forwardedClientCert: SANITIZE_SET
    setCurrentClientCertDetails: { cert: true, chain: true, subject: true, uri: true, dns: true }`);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const issued = await issueWorkloadCertificate({
      ca: await sharedCa(),
      namespace: 'bar',
      serviceAccount: 'web',
      dnsNames: ['web.bar.svc.cluster.local', 'web'],
    });
    // The client presents its leaf and the root.
    const client: ClientTls = {
      key: issued.keyPem,
      cert: issued.certChainPem + issued.rootCertPem,
      ca: issued.rootCertPem,
    };
    const reply = await tlsGet(port, client, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    const xfcc = reply.body.xfcc!;
    const match =
      /^By=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin;Hash=([0-9a-f]{64});Cert="([^"]*)";Chain="([^"]*)";Subject="";URI=spiffe:\/\/cluster\.local\/ns\/bar\/sa\/web;DNS=web\.bar\.svc\.cluster\.local;DNS=web$/.exec(
        xfcc,
      );
    expect(match, xfcc).not.toBeNull();
    const [, hash, cert, chain] = match!;
    expect(hash).toBe(hashOf(issued.certChainPem));
    // Only Envoy's five characters are escaped.
    expect(cert).toMatch(/^[A-Za-z0-9%-]+$/);
    expect(cert).toContain('-----BEGIN%20CERTIFICATE-----%0A');
    expect(urlDecodedPem(cert!)).toBe(issued.certChainPem);
    expect(pems(urlDecodedPem(chain!))).toEqual([...pems(issued.certChainPem), ...pems(issued.rootCertPem)]);
  });

  it('Chain is the chain as the client presented it: its leaf alone when it sent no root', async () => {
    const plan = meshPlan(`defaultConfig:
  proxyHeaders:
    setCurrentClientCertDetails: { chain: true, subject: false, uri: false, dns: false }`);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const client = await meshClient('bar', 'sleep');
    // Without the mesh root the client cannot build a chain: it sends its leaf only.
    const echo = await rawTlsGet(port, { key: client.key!, cert: client.cert! });
    const hash = hashOf(client.cert!);
    const chain = /;Chain="([^"]*)"$/.exec(echo.xfcc ?? '')?.[1];
    expect(echo.xfcc).toBe(`By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=${hash};Chain="${chain}"`);
    expect(urlDecodedPem(chain!)).toBe(client.cert);
  });

  it('carries only By and Hash when every detail is off', async () => {
    const plan = meshPlan(`defaultConfig:
  proxyHeaders:
    setCurrentClientCertDetails: { subject: false, uri: false, dns: false }`);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const client = await meshClient('bar', 'sleep');
    const reply = await tlsGet(port, client);
    expect(reply.body.xfcc).toBe(`By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=${hashOf(client.cert!)}`);
  });
});

describe('X-Forwarded-Client-Cert on a gateway (gatewayTopology.forwardClientCertDetails)', () => {
  const GATEWAY: Workload = {
    name: 'istio-ingressgateway-1',
    namespace: 'istio-system',
    serviceAccount: 'istio-ingressgateway-service-account',
    labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
  };
  const BY = 'By=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

  async function gatewayServer(plan: MeshPlan) {
    expect(plan.inbound.gateway).toBe(true);
    return startServer({
      getPlan: () => plan,
      certs: await certSourceFor('istio-system', 'istio-ingressgateway-service-account'),
    });
  }

  it('defaults to SANITIZE_SET with Subject, Cert, URI and DNS, whatever proxyHeaders says', async () => {
    const plan = meshPlan(
      `defaultConfig:
  proxyHeaders:
    forwardedClientCert: FORWARD_ONLY
    setCurrentClientCertDetails: { cert: false, uri: false }`,
      GATEWAY,
    );
    const { port } = await gatewayServer(plan);
    const client = await meshClient('bar', 'sleep');
    const reply = await tlsGet(port, client, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    const cert = /;Cert="([^"]*)";/.exec(reply.body.xfcc ?? '')?.[1] ?? '';
    expect(urlDecodedPem(cert)).toBe(client.cert);
    expect(reply.body.xfcc).toBe(
      `${BY};Hash=${hashOf(client.cert!)};Cert="${cert}";Subject="";URI=spiffe://cluster.local/ns/bar/sa/sleep`,
    );
    const plain = await plainGet(port, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    expect(plain.body).toMatchObject({ xfcc: null, rawXfcc: [] });
  });

  it('follows gatewayTopology.forwardClientCertDetails', async () => {
    const append = meshPlan(
      `defaultConfig:
  gatewayTopology:
    forwardClientCertDetails: APPEND_FORWARD
  proxyHeaders:
    forwardedClientCert: SANITIZE`,
      GATEWAY,
    );
    const { port } = await gatewayServer(append);
    const client = await meshClient('bar', 'sleep');
    const reply = await tlsGet(port, client, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    const cert = /;Cert="([^"]*)";/.exec(reply.body.xfcc ?? '')?.[1] ?? '';
    expect(urlDecodedPem(cert)).toBe(client.cert);
    expect(reply.body.xfcc).toBe(
      `${FORGED},${BY};Hash=${hashOf(client.cert!)};Cert="${cert}";Subject="";URI=spiffe://cluster.local/ns/bar/sa/sleep`,
    );

    const always = meshPlan(
      `defaultConfig:\n  gatewayTopology:\n    forwardClientCertDetails: ALWAYS_FORWARD_ONLY`,
      GATEWAY,
    );
    const second = await gatewayServer(always);
    const plain = await plainGet(second.port, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    expect(plain.body.xfcc).toBe(FORGED);
  });
});
