import { createHash, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Mesh } from '../../../src/index.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { meshClient, tlsGet } from '../../inbound/server/support.js';
import { fields, loggingMesh, loopbackEntry, servingReviews, textLogProvider } from './support.js';

// An inbound mTLS request through the mesh server (the way the Express and Fastify
// adapters serve), logged with a custom Telemetry `logFormat.text`: the TLS operators read
// the connection's certificates as Envoy's Ssl::ConnectionInfo does (envoy
// source/common/tls/connection_info_impl_base.cc), the CEL filter reads
// `connection.uri_san_peer_certificate` (context.cc SSL extractors).

const tmp = useTmpDir();
const cleanup = useCleanup();

const FORMAT = [
  'peer_uri=%DOWNSTREAM_PEER_URI_SAN%',
  'local_uri=%DOWNSTREAM_LOCAL_URI_SAN%',
  'tls=%DOWNSTREAM_TLS_VERSION%',
  'cipher=%DOWNSTREAM_TLS_CIPHER%',
  'subject=%DOWNSTREAM_PEER_SUBJECT%',
  'issuer=%DOWNSTREAM_PEER_ISSUER%',
  'sha256=%DOWNSTREAM_PEER_FINGERPRINT_256%',
  'sha1=%DOWNSTREAM_PEER_FINGERPRINT_1%',
  'serial=%DOWNSTREAM_PEER_SERIAL%',
  'v_end=%DOWNSTREAM_PEER_CERT_V_END(%s)%',
  'cert=%DOWNSTREAM_PEER_CERT%',
  'mtls=%CEL(connection.mtls)%',
  'cel_version=%CEL(connection.tls_version)%',
  'direction=%CEL(xds.listener_direction)%',
  'conn=%CONNECTION_ID%',
  'direct=%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%',
].join(' | ');

async function reviews(filter: string): Promise<{ mesh: Mesh; port: number; lines: string[] }> {
  const yaml = textLogProvider('tls-text', FORMAT, [`filter: { expression: ${JSON.stringify(filter)} }`]);
  return servingReviews(await tmp(), yaml, (m) => cleanup.mesh(m));
}

describe('inbound mTLS access log', () => {
  it("prints the peer's and the local certificate's details, and the connection's TLS", async () => {
    const { mesh, port, lines } = await reviews("connection.uri_san_peer_certificate.endsWith('/sa/sleep')");
    const client = await meshClient('default', 'sleep');
    expect((await tlsGet(port, client)).status).toBe(200);
    await linesBeyond(lines, 0);
    await mesh.telemetry!.accessLog.server.flush();
    expect(lines).toHaveLength(1);
    const f = fields(lines[0]!);
    const cert = new X509Certificate(client.cert!);
    expect(f['peer_uri']).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(f['local_uri']).toBe('spiffe://cluster.local/ns/default/sa/reviews');
    expect(f['tls']).toBe('TLSv1.3');
    // OpenSSL's name for the suite, as Envoy's SSL_CIPHER_get_name.
    expect(f['cipher']).toMatch(/^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    // Istio's workload certificates have an empty subject: Envoy prints `-`.
    expect(f['subject']).toBe('-');
    // RFC 2253 order: the CA's subject is O=meshlet, CN=mesh CA.
    expect(f['issuer']).toBe('CN=mesh CA,O=meshlet');
    expect(f['sha256']).toBe(createHash('sha256').update(cert.raw).digest('hex'));
    expect(f['sha1']).toBe(createHash('sha1').update(cert.raw).digest('hex'));
    expect(f['serial']).toBe(cert.serialNumber.toLowerCase());
    expect(f['v_end']).toBe(String(Math.floor(Date.parse(cert.validTo) / 1000)));
    expect(f['cert']).toBe(
      cert
        .toString()
        .replace(/\n/g, '%0A')
        .replace(/ /g, '%20')
        .replace(/\+/g, '%2B')
        .replace(/\//g, '%2F')
        .replace(/=/g, '%3D'),
    );
    expect(f['cert']).toMatch(
      /^-----BEGIN%20CERTIFICATE-----%0A[A-Za-z0-9%]+%0A-----END%20CERTIFICATE-----%0A$/,
    );
    expect(f['mtls']).toBe('true');
    expect(f['cel_version']).toBe('TLSv1.3');
    expect(f['direction']).toBe('1');
    expect(Number(f['conn'])).toBeGreaterThan(0);
    expect(f['direct']).toBe('127.0.0.1');
  });

  it('logs only what the CEL filter on the peer certificate accepts', async () => {
    const { mesh, port, lines } = await reviews(
      "connection.uri_san_peer_certificate.endsWith('/sa/productpage')",
    );
    expect((await tlsGet(port, await meshClient('default', 'sleep'))).status).toBe(200);
    expect((await tlsGet(port, await meshClient('default', 'productpage'))).status).toBe(200);
    await linesBeyond(lines, 0);
    await mesh.telemetry!.accessLog.server.flush();
    expect(lines.map((l) => fields(l)['peer_uri'])).toEqual([
      'spiffe://cluster.local/ns/default/sa/productpage',
    ]);
  });
});

describe('outbound access log', () => {
  it("prints the endpoint's locality, the listener direction and the upstream address", async () => {
    const echo = cleanup.server(createServer((_req, res) => res.end('hi')));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const upstream = (echo.address() as AddressInfo).port;
    const dir = await tmp();
    const { mesh, lines } = await loggingMesh(
      dir,
      `${istioConfigMap(`extensionProviders:
- name: out-text
  envoyFileAccessLog:
    path: /dev/stdout
    logFormat:
      text: "%CEL(upstream.locality.region)% %CEL(upstream.locality.zone)% %CEL(xds.listener_direction)% %UPSTREAM_REMOTE_PORT% %UPSTREAM_PROTOCOL% %ACCESS_LOG_TYPE% %CONNECTION_ID% %DOWNSTREAM_TLS_VERSION%"`)}apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: out-text }]
    match: { mode: CLIENT }
    filter:
      expression: "upstream.locality.zone == 'us-east1-b'"
---
${loopbackEntry('echo', 'echo.local', upstream, 'locality: us-east1/us-east1-b/rack1')}
`,
      { app: 'front' },
    );
    cleanup.mesh(mesh);
    expect(await (await mesh.fetch(`http://echo.local:${upstream}/`)).text()).toBe('hi');
    await linesBeyond(lines, 0);
    expect(lines).toEqual([`us-east1 us-east1-b 2 ${upstream} HTTP/1.1 DownstreamEnd 0 -`]);
  });

  it("prints a local reply's body and no upstream protocol when the upstream refused the connection", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const dir = await tmp();
    const { mesh, lines } = await loggingMesh(
      dir,
      `${istioConfigMap(`accessLogFile: /dev/stdout
accessLogFormat: "%RESPONSE_CODE% %RESPONSE_FLAGS_LONG% %UPSTREAM_PROTOCOL% %UPSTREAM_TRANSPORT_FAILURE_REASON% [%LOCAL_REPLY_BODY%]"`)}${loopbackEntry('gone', 'gone.local', port)}
`,
      { app: 'front' },
    );
    cleanup.mesh(mesh);
    const res = await mesh.fetch(`http://gone.local:${port}/`);
    const body = await res.text();
    expect(res.status).toBe(503);
    expect(body).toMatch(/^upstream connect error or disconnect\/reset before headers/);
    await linesBeyond(lines, 0);
    expect(lines[0]).toMatch(
      /^503 UpstreamConnectionFailure(,UpstreamRetryLimitExceeded)? - delayed_connect_error:_\d+ \[/,
    );
    expect(lines[0]).toBe(`${lines[0]!.slice(0, lines[0]!.indexOf('[') + 1)}${body}]`);
  });
});
