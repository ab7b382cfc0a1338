import { createHash, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Mesh } from '../../../src/index.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { certSourceFor, meshClient } from '../../inbound/server/support.js';
import { fields, loggingMesh, loopbackEntry, textLogProvider } from './support.js';

// An outbound ISTIO_MUTUAL call from `mesh.fetch` to a real TLS upstream on loopback,
// logged with a custom client format: the `%UPSTREAM_*%` TLS operators read the upstream
// connection's Ssl::ConnectionInfo (envoy source/common/formatter/stream_info_formatter.cc,
// StreamInfoUpstreamSslConnectionInfoFormatterProvider: `-` without TLS or for an empty
// value), `upstream.*` the same SSL extractors as `connection.*` (envoy
// source/extensions/filters/common/expr/context.cc UpstreamWrapper), and
// `%UPSTREAM_CONNECTION_ID%` the upstream connection's id (0 without one).

const tmp = useTmpDir();
const cleanup = useCleanup();
const tlsServers: Server[] = [];
afterEach(async () => {
  for (const s of tlsServers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const FORMAT = [
  'host=%UPSTREAM_CLUSTER%',
  'peer_uri=%UPSTREAM_PEER_URI_SAN%',
  'local_uri=%UPSTREAM_LOCAL_URI_SAN%',
  'tls=%UPSTREAM_TLS_VERSION%',
  'cipher=%UPSTREAM_TLS_CIPHER%',
  'subject=%UPSTREAM_PEER_SUBJECT%',
  'issuer=%UPSTREAM_PEER_ISSUER%',
  'peer_dns=%UPSTREAM_PEER_DNS_SAN%',
  'v_end=%UPSTREAM_PEER_CERT_V_END(%s)%',
  'cert=%UPSTREAM_PEER_CERT%',
  'conn=%UPSTREAM_CONNECTION_ID%',
  'cel_peer=%CEL(upstream.uri_san_peer_certificate)%',
  'cel_local=%CEL(upstream.uri_san_local_certificate)%',
  'cel_version=%CEL(upstream.tls_version)%',
  'cel_sha=%CEL(upstream.sha256_peer_certificate_digest)%',
  'down_tls=%DOWNSTREAM_TLS_VERSION%',
  'sid=%UPSTREAM_TLS_SESSION_ID%',
].join(' | ');

function yaml(tlsPort: number, plainPort: number, filter: string | null): string {
  const spec = ['match: { mode: CLIENT }'];
  if (filter !== null) spec.push(`filter: { expression: ${JSON.stringify(filter)} }`);
  return `${textLogProvider('out-text', FORMAT, spec)}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{ number: ${tlsPort}, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{ address: 127.0.0.1, serviceAccount: reviews }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
---
${loopbackEntry('plain', 'plain.example', plainPort)}
`;
}

interface Setup {
  readonly mesh: Mesh;
  readonly lines: string[];
  readonly tlsPort: number;
  readonly plainPort: number;
  readonly serverCert: X509Certificate;
}

async function setup(transport: 'got' | 'undici', filter: string | null, closeEach = false): Promise<Setup> {
  // The upstream: a workload of service account `reviews` serving mTLS with its Istio
  // certificate, as its sidecar would.
  const reviews = await meshClient('default', 'reviews');
  const tls = createHttpsServer(
    { key: reviews.key, cert: reviews.cert, ca: reviews.ca, requestCert: true, rejectUnauthorized: true },
    (_req, res) => {
      if (closeEach) res.setHeader('connection', 'close');
      res.end('tls');
    },
  );
  tlsServers.push(tls);
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  const plain = cleanup.server(createServer((_req, res) => res.end('plain')));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const tlsPort = (tls.address() as AddressInfo).port;
  const plainPort = (plain.address() as AddressInfo).port;
  const dir = await tmp();
  const { mesh, lines } = await loggingMesh(
    dir,
    yaml(tlsPort, plainPort, filter),
    { app: 'sleep' },
    { transport, certs: await certSourceFor('default', 'sleep') },
  );
  cleanup.mesh(mesh);
  return { mesh, lines, tlsPort, plainPort, serverCert: new X509Certificate(reviews.cert!) };
}

const urlEncodedPem = (c: X509Certificate): string =>
  c
    .toString()
    .replace(/\n/g, '%0A')
    .replace(/ /g, '%20')
    .replace(/\+/g, '%2B')
    .replace(/\//g, '%2F')
    .replace(/=/g, '%3D');

describe('outbound mTLS access log (got transport)', () => {
  it("prints the upstream's and our certificate's details and the connection's TLS; `-` for plaintext", async () => {
    const { mesh, lines, tlsPort, plainPort, serverCert } = await setup('got', null);
    expect(await (await mesh.fetch(`http://reviews.default.svc.cluster.local:${tlsPort}/`)).text()).toBe(
      'tls',
    );
    expect(await (await mesh.fetch(`http://reviews.default.svc.cluster.local:${tlsPort}/`)).text()).toBe(
      'tls',
    );
    expect(await (await mesh.fetch(`http://plain.example:${plainPort}/`)).text()).toBe('plain');
    await linesBeyond(lines, 2);
    expect(lines).toHaveLength(3);
    const [first, second, plain] = lines.map(fields) as [
      Record<string, string>,
      Record<string, string>,
      Record<string, string>,
    ];
    expect(first['host']).toBe(`outbound|${tlsPort}||reviews.default.svc.cluster.local`);
    expect(first['peer_uri']).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    expect(first['local_uri']).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(first['tls']).toBe('TLSv1.3');
    // OpenSSL's name for the suite, as Envoy's SSL_CIPHER_get_name.
    expect(first['cipher']).toMatch(/^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    // Istio's workload certificates have an empty subject and no DNS SAN: `-`.
    expect(first['subject']).toBe('-');
    expect(first['peer_dns']).toBe('-');
    expect(first['issuer']).toBe('CN=mesh CA,O=meshlet');
    expect(first['v_end']).toBe(String(Math.floor(Date.parse(serverCert.validTo) / 1000)));
    expect(first['cert']).toBe(urlEncodedPem(serverCert));
    expect(Number(first['conn'])).toBeGreaterThan(0);
    expect(first['cel_peer']).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    expect(first['cel_local']).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(first['cel_version']).toBe('TLSv1.3');
    expect(first['cel_sha']).toBe(createHash('sha256').update(serverCert.raw).digest('hex'));
    // The application's connection to its sidecar is not TLS.
    expect(first['down_tls']).toBe('-');
    // The second call reused the pooled connection: the same upstream connection id.
    expect(second['conn']).toBe(first['conn']);
    expect(second['peer_uri']).toBe(first['peer_uri']);
    // The session's id, hex (envoy sessionId(): Hex::encode of SSL_SESSION_get_id). A TLS 1.3
    // client learns its session from a ticket sent after the handshake, so whether the first
    // call's line has one depends on when the ticket landed (Node 24 logs before it does);
    // once known it stays the connection's.
    expect(first['sid']).toMatch(/^(-|[0-9a-f]{2,64})$/);
    expect(second['sid']).toMatch(/^[0-9a-f]{2,64}$|^-$/);
    if (first['sid'] !== '-') expect(second['sid']).toBe(first['sid']);

    expect(plain['host']).toBe(`outbound|${plainPort}||plain.example`);
    for (const k of [
      'peer_uri',
      'local_uri',
      'tls',
      'cipher',
      'issuer',
      'v_end',
      'cert',
      'cel_peer',
      'cel_version',
    ])
      expect(plain[k], k).toBe('-');
    // A plaintext upstream connection still has an id, another one.
    expect(Number(plain['conn'])).toBeGreaterThan(0);
    expect(plain['conn']).not.toBe(first['conn']);
  });

  it("logs only what the CEL filter on the upstream's peer certificate accepts", async () => {
    const { mesh, lines, tlsPort, plainPort } = await setup(
      'got',
      "upstream.uri_san_peer_certificate.endsWith('/sa/reviews')",
    );
    expect(await (await mesh.fetch(`http://plain.example:${plainPort}/`)).text()).toBe('plain');
    expect(await (await mesh.fetch(`http://reviews.default.svc.cluster.local:${tlsPort}/`)).text()).toBe(
      'tls',
    );
    await linesBeyond(lines, 0);
    await mesh.telemetry!.accessLog.client.flush();
    expect(lines.map((l) => fields(l)['host'])).toEqual([
      `outbound|${tlsPort}||reviews.default.svc.cluster.local`,
    ]);
  });

  it('still prints the TLS facts when the upstream closed the connection with its response', async () => {
    const { mesh, lines, tlsPort } = await setup('got', null, true);
    const res = await mesh.fetch(`http://reviews.default.svc.cluster.local:${tlsPort}/`);
    // Let the close reach the client before the body is read and the line written.
    await new Promise((r) => setTimeout(r, 50));
    expect(await res.text()).toBe('tls');
    await linesBeyond(lines, 0);
    const f = fields(lines[0]!);
    expect(f['peer_uri']).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    expect(f['local_uri']).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(f['tls']).toBe('TLSv1.3');
    expect(f['issuer']).toBe('CN=mesh CA,O=meshlet');
    expect(f['cel_peer']).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    expect(f['cel_local']).toBe('spiffe://cluster.local/ns/default/sa/sleep');
  });
});
