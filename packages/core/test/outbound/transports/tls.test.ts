import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError, type Transport, type TransportTls } from '../../../src/outbound/transport.js';
import { createGotTransport } from '../../../src/outbound/transports/got-transport.js';
import { createUndiciTransport } from '../../../src/outbound/transports/undici-transport.js';
import { createTestPki, type TestPki } from './support/certs.js';
import { transportRequest, text } from './support/request.js';
import { httpsServer, type Loopback } from './support/servers.js';

const SNI = 'outbound_.9080_._.reviews.default.svc.cluster.local';
const REVIEWS = 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews';

/** Istio's SPIFFE check: the URI SAN must name the expected service account. */
function expectIdentity(identity: string): (cert: PeerCertificate) => string | null {
  return (cert) =>
    (cert.subjectaltname ?? '').split(', ').includes(`URI:${identity}`)
      ? null
      : `peer identity is not ${identity} (SANs: ${cert.subjectaltname ?? 'none'})`;
}

describe.each([
  ['got', createGotTransport],
  ['undici', createUndiciTransport],
] as const)('%s transport over TLS', (_name, create) => {
  let pki: TestPki;
  let client: { cert: string; key: string };
  let server: Loopback;
  /** A TLS 1.2-only server offering one cipher suite, like an old sidecar-less upstream. */
  let tls12: Loopback;
  let handled = 0;
  const peers: (string | undefined)[] = [];
  let istioAlpn: Loopback;
  const alpnSeen: string[][] = [];

  beforeAll(async () => {
    pki = createTestPki();
    const serverCert = pki.issue({ dns: ['reviews.default.svc.cluster.local'], uri: REVIEWS });
    client = pki.issue({ uri: 'spiffe://cluster.local/ns/default/sa/productpage' });
    server = await httpsServer(
      { ...serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        handled++;
        const socket = req.socket as TLSSocket;
        peers.push(socket.getPeerCertificate().subjectaltname);
        const sni = (socket as unknown as { servername?: string | false }).servername;
        res.end(`servername=${typeof sni === 'string' ? sni : ''}`);
      },
    );
    // An Istio sidecar's inbound chain for mTLS HTTP matches the client's ALPN
    // (istio-http/1.1, ...); this server answers with what the client offered.
    istioAlpn = await httpsServer(
      {
        ...serverCert,
        ca: pki.ca,
        ALPNCallback: ({ protocols }) => (alpnSeen.push(protocols), protocols[0]),
      },
      (_req, res) => res.end('ok'),
    );
    tls12 = await httpsServer(
      {
        ...serverCert,
        ca: pki.ca,
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      },
      (req, res) => res.end(`protocol=${(req.socket as TLSSocket).getProtocol() ?? ''}`),
    );
  }, 30_000);
  afterAll(() => Promise.all([server.close(), tls12.close(), istioAlpn.close()]));

  const tls = (over: Partial<TransportTls>): TransportTls => ({
    ca: pki.ca,
    cert: client.cert,
    key: client.key,
    servername: SNI,
    verifyPeer: expectIdentity(REVIEWS),
    ...over,
  });

  const call = async (
    t: Transport,
    settings: TransportTls,
    poolKey: string,
    port = server.port,
  ): Promise<string> => {
    try {
      const res = await t.request(transportRequest(`https://127.0.0.1:${port}/`, { tls: settings, poolKey }));
      return await text(res.body);
    } finally {
      await t.close();
    }
  };

  it('sends the client certificate and SNI, and accepts a peer whose SPIFFE identity matches', async () => {
    const body = await call(create(), tls({}), 'ok');
    expect(body).toBe(`servername=${SNI}`);
    expect(peers.at(-1)).toBe('URI:spiffe://cluster.local/ns/default/sa/productpage');
  });

  it('offers the ALPN it is given, as Istio mTLS clients offer istio-http/1.1', async () => {
    const alpn = ['istio-http/1.1', 'istio', 'http/1.1'];
    expect(await call(create(), tls({ alpn }), 'alpn', istioAlpn.port)).toBe('ok');
    expect(alpnSeen.at(-1)).toEqual(alpn);
  });

  it('times out a TLS handshake that never completes as a connect timeout, ALPN or not', async () => {
    // A socket that accepts and never answers the ClientHello.
    const held: Socket[] = [];
    const silent = createNetServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      for (const alpn of [undefined, ['istio-http/1.1', 'istio', 'http/1.1']]) {
        const t = create();
        const err = await t
          .request(
            transportRequest(`https://127.0.0.1:${port}/`, {
              tls: tls(alpn === undefined ? {} : { alpn }),
              poolKey: `silent-${String(alpn)}`,
              connectTimeoutMs: 200,
            }),
          )
          .catch((e: unknown) => e)
          .finally(() => t.close());
        expect((err as TransportError).failure).toBe('connect-timeout');
      }
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('refuses the connection with a tls failure when verifyPeer returns a message', async () => {
    const before = handled;
    const err = await call(
      create(),
      tls({ verifyPeer: expectIdentity('spiffe://cluster.local/ns/default/sa/ratings') }),
      'wrong-identity',
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('tls');
    expect((err as TransportError).message).toContain('sa/ratings');
    expect(handled).toBe(before);
  });

  it('fails with tls when the server chain is not signed by the given CA', async () => {
    const other = createTestPki();
    const err = await call(create(), tls({ ca: other.ca }), 'other-ca').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('tls');
    expect((err as TransportError).beforeRequestSent).toBe(true);
  });

  it("checks the SNI name against the certificate's DNS SANs when there is no verifyPeer", async () => {
    const good = await call(
      create(),
      tls({ verifyPeer: null, servername: 'reviews.default.svc.cluster.local' }),
      'dns-ok',
    );
    expect(good).toBe('servername=reviews.default.svc.cluster.local');
    const err = await call(
      create(),
      tls({ verifyPeer: null, servername: 'ratings.default.svc.cluster.local' }),
      'dns-bad',
    ).catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('tls');
  });

  it('offers no version below minVersion and only the given ciphers (meshConfig meshMTLS)', async () => {
    const to12 = (settings: TransportTls, poolKey: string) => call(create(), settings, poolKey, tls12.port);
    expect(await to12(tls({}), 'v12-default')).toBe('protocol=TLSv1.2');
    const tooOld = await to12(tls({ minVersion: 'TLSv1.3' }), 'v13-only').catch((e: unknown) => e);
    expect((tooOld as TransportError).failure).toBe('tls');
    expect(await call(create(), tls({ minVersion: 'TLSv1.3' }), 'v13-ok')).toBe(`servername=${SNI}`);
    expect(await to12(tls({ ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }), 'cipher-ok')).toBe('protocol=TLSv1.2');
    const noShared = await to12(
      tls({ ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', minVersion: 'TLSv1.2' }),
      'cipher-none',
    ).catch((e: unknown) => e);
    expect((noShared as TransportError).failure).toBe('tls');
  });
});
