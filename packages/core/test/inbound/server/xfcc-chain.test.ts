import { createHash, X509Certificate } from 'node:crypto';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createServer as createTlsServer, type ConnectionOptions } from 'node:tls';
import { describe, expect, it } from 'vitest';
import type { MeshPlan } from '../../../src/compile/plan-types.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type IssuedCertificate,
} from '../../../src/identity/dev-ca.js';
import { PresentedChains } from '../../../src/inbound/server/presented-chain.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { sharedCa } from '../../identity/support.js';
import { certSourceFor, httpbin, ISTIO_CLIENT_ALPN, planFor, startServer, type Echo } from './support.js';
import { intermediateCa } from './xfcc-chain-ca.js';

// XFCC `Chain` is Envoy's urlEncodedPemEncodedPeerCertificateChain (envoy
// source/common/tls/connection_info_impl_base.cc): SSL_get_peer_full_cert_chain, the
// certificates the client sent, in the order it sent them, leaf first: its intermediates,
// and a root only when the client sent one (istio-agent's workload chain ends with the root,
// security/pkg/nodeagent/cache/secretcache.go generateNewSecret). Nothing comes from the
// server's trust store.

const BY = 'By=spiffe://cluster.local/ns/foo/sa/httpbin';

function meshPlan(details: string): MeshPlan {
  return planFor(httpbin('foo'), [
    {
      text: istioConfigMap(`defaultConfig:
  proxyHeaders:
    forwardedClientCert: SANITIZE_SET
    setCurrentClientCertDetails: { ${details} }`),
    },
  ]);
}

const CHAIN_ON = meshPlan('chain: true, subject: false, uri: false, dns: false');
const CHAIN_OFF = meshPlan('subject: false, uri: false, dns: false');

function pems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----\n[\s\S]*?-----END CERTIFICATE-----\n/g) ?? [];
}

function hashOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** The certificates of the element's Chain, Envoy's five escapes undone; null without Chain. */
function chainOf(xfcc: string | null): string[] | null {
  const value = /;Chain="([^"]*)"/.exec(xfcc ?? '')?.[1];
  if (value === undefined) return null;
  return pems(
    value
      .replace(/%0A/g, '\n')
      .replace(/%20/g, ' ')
      .replace(/%2B/g, '+')
      .replace(/%2F/g, '/')
      .replace(/%3D/g, '='),
  );
}

/** A client's key and the certificates it sends, in order. */
interface Presented {
  readonly key: string;
  readonly cert: string;
}

/**
 * GET over TLS sending exactly `presented`. No `ca`: given one and a lone leaf, OpenSSL
 * would send the path it builds from it, root included (openssl ssl/statem/statem_lib.c
 * ssl_add_cert_chain). The server is not checked.
 */
function presentedGet(
  port: number,
  presented: Presented,
  agent: HttpsAgent | false = false,
): Promise<{ status: number; body: Echo; localPort: number }> {
  const request: RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
    host: '127.0.0.1',
    port,
    path: '/',
    key: presented.key,
    cert: presented.cert,
    ALPNProtocols: [...ISTIO_CLIENT_ALPN],
    rejectUnauthorized: false,
    agent,
  };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(request, (res) => {
      const localPort = res.socket.localPort ?? 0;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Echo, localPort });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let viaIntermediate: Promise<IssuedCertificate> | undefined;
/** bar/sleep's certificate from an intermediate of the mesh root: certChainPem = leaf + intermediate. */
function intermediateIssued(): Promise<IssuedCertificate> {
  viaIntermediate ??= sharedCa().then((root) =>
    issueWorkloadCertificate({ ca: intermediateCa(root), namespace: 'bar', serviceAccount: 'sleep' }),
  );
  return viaIntermediate;
}

let direct: Promise<IssuedCertificate> | undefined;
/** bar/sleep's certificate signed by the mesh root itself: certChainPem = the leaf. */
function rootIssued(): Promise<IssuedCertificate> {
  direct ??= sharedCa().then((ca) =>
    issueWorkloadCertificate({ ca, namespace: 'bar', serviceAccount: 'sleep' }),
  );
  return direct;
}

async function chainServer(getPlan: () => MeshPlan) {
  return startServer({ getPlan, certs: await certSourceFor('foo', 'httpbin') });
}

describe('XFCC Chain: the certificates the client presented', () => {
  // Each case: the issued certificate (its key signs) and the certificates sent, in order.
  const cases: [string, () => Promise<IssuedCertificate>, (c: IssuedCertificate) => string[]][] = [
    ['leaf and intermediate: both, no root', intermediateIssued, (c) => pems(c.certChainPem)],
    [
      'leaf, intermediate and root: all three',
      intermediateIssued,
      (c) => pems(c.certChainPem + c.rootCertPem),
    ],
    [
      'leaf, root, intermediate: in the order sent',
      intermediateIssued,
      (c) => {
        const [leaf, intermediate] = pems(c.certChainPem) as [string, string];
        return [leaf, c.rootCertPem, intermediate];
      },
    ],
    ['a leaf signed by the root: the leaf alone', rootIssued, (c) => pems(c.certChainPem)],
    [
      'a leaf signed by the root, with the root: both',
      rootIssued,
      (c) => pems(c.certChainPem + c.rootCertPem),
    ],
  ];

  it.each(cases)('%s', async (_name, issued, sentBy) => {
    const { port } = await chainServer(() => CHAIN_ON);
    const client = await issued();
    const sent = sentBy(client);
    const reply = await presentedGet(port, { key: client.keyPem, cert: sent.join('') });
    expect(reply.status).toBe(200);
    expect(reply.body.peer).toMatchObject({ principal: 'cluster.local/ns/bar/sa/sleep' });
    expect(chainOf(reply.body.xfcc)).toEqual(sent);
    expect(reply.body.xfcc).toMatch(new RegExp(`^${BY};Hash=${hashOf(client.certChainPem)};Chain="[^"]+"$`));
  });

  it('follows the plan: Chain from the next connection on, and gone again when turned off', async () => {
    let plan = CHAIN_OFF;
    const { port } = await chainServer(() => plan);
    const c = await intermediateIssued();
    const presented: Presented = { key: c.keyPem, cert: c.certChainPem };
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await presentedGet(port, presented, agent);
      expect(before.body.xfcc).toMatch(new RegExp(`^${BY};Hash=[0-9a-f]{64}$`));
      plan = CHAIN_ON;
      // The element is made at the handshake: the open connection keeps its own.
      const same = await presentedGet(port, presented, agent);
      expect(same.localPort).toBe(before.localPort);
      expect(chainOf(same.body.xfcc)).toBeNull();
      expect(chainOf((await presentedGet(port, presented)).body.xfcc)).toEqual(pems(c.certChainPem));
      plan = CHAIN_OFF;
      expect(chainOf((await presentedGet(port, presented)).body.xfcc)).toBeNull();
      plan = CHAIN_ON;
      expect(chainOf((await presentedGet(port, presented)).body.xfcc)).toEqual(pems(c.certChainPem));
    } finally {
      agent.destroy();
    }
  });

  it('leaves verification as it was: a chain to another root is refused', async () => {
    const { port, refusals } = await chainServer(() => CHAIN_ON);
    const foreign = await issueWorkloadCertificate({
      ca: intermediateCa(await createDevCa({ commonName: 'foreign CA' })),
      namespace: 'bar',
      serviceAccount: 'sleep',
    });
    await expect(
      presentedGet(port, { key: foreign.keyPem, cert: foreign.certChainPem + foreign.rootCertPem }),
    ).rejects.toThrow();
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer']);
  });
});

describe('PresentedChains', () => {
  it('listens to the handshake only while capturing', () => {
    const servers = [createTlsServer(), createTlsServer()];
    const chains = new PresentedChains(servers);
    const listeners = () => servers.map((s) => s.listenerCount('keylog'));
    expect(listeners()).toEqual([0, 0]);
    chains.capture(true);
    chains.capture(true);
    expect(listeners()).toEqual([1, 1]);
    chains.capture(false);
    expect(listeners()).toEqual([0, 0]);
  });
});
