import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { rfc2253Name } from '../../../src/identity/x509-text.js';
import { sessionIdOf, type TlsConnection } from '../../../src/telemetry/access-log/tls-fields.js';
import { compileCel } from '../../../src/telemetry/cel/compile.js';
import { entryActivation } from '../../../src/telemetry/cel/entry-activation.js';
import { CelError, CelUint, type CelValue } from '../../../src/telemetry/cel/values.js';
import { issueWorkloadCertificate } from '../../../src/identity/dev-ca.js';
import type { MetricEvent } from '../../../src/telemetry/metrics/metric-event.js';
import { compileTagExpression } from '../../../src/telemetry/metrics/tag-expression.js';
import { UNKNOWN_PEER } from '../../../src/telemetry/peer-labels.js';
import { sharedCa } from '../../identity/support.js';
import { reviewsCall } from '../access-log/fixtures.js';

// The access-log attributes of the downstream TLS connection and the upstream host, typed
// as envoy source/extensions/filters/common/expr/context.cc gives them: `connection.id`
// uint, `connection.mtls` bool, SAN attributes the first SAN (missing without one),
// subjects strings (empty for Istio's certificates), `request.headers_bytes` int,
// `upstream.locality` a Locality message, `xds.listener_direction` the TrafficDirection int.

async function certs(): Promise<{ peer: X509Certificate; local: X509Certificate }> {
  const ca = await sharedCa();
  const peer = await issueWorkloadCertificate({
    ca,
    namespace: 'default',
    serviceAccount: 'sleep',
    dnsNames: ['sleep.default.svc', 'sleep'],
  });
  const local = await issueWorkloadCertificate({ ca, namespace: 'default', serviceAccount: 'reviews' });
  return { peer: new X509Certificate(peer.certChainPem), local: new X509Certificate(local.certChainPem) };
}

/** A TLS socket as the access log reads it. */
function socket(peer: X509Certificate | undefined, local: X509Certificate | undefined): TlsConnection {
  return {
    getPeerX509Certificate: () => peer,
    getX509Certificate: () => local,
    getProtocol: () => 'TLSv1.2',
    getCipher: () => ({ name: 'ECDHE-RSA-AES128-GCM-SHA256', standardName: '', version: 'TLSv1.2' }),
    getSession: () => undefined,
  };
}

const BASE: AccessLogEntry = reviewsCall({
  path: '/a?b=1',
  bytesReceived: 3,
  bytesSent: 5,
  durationMs: 1,
  requestHeaders: { 'x-a': 'bc' },
  responseHeaders: { 'x-b': 'd' },
  upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
  routeName: 'default',
  upstreamLocality: { region: 'us-east1', zone: 'us-east1-b', subZone: '' },
});

function evaluate(expr: string, entry: AccessLogEntry): CelValue {
  const c = compileCel(expr, 'accessLog');
  if (!c.ok) throw new Error(c.problem.message);
  return c.program.evaluate(entryActivation(entry));
}

describe('connection attributes from the downstream TLS connection', () => {
  it("reads the peer's and the local certificate, the version, mtls and the connection id", async () => {
    const { peer, local } = await certs();
    const entry: AccessLogEntry = {
      ...BASE,
      direction: 'INBOUND',
      downstreamTls: socket(peer, local),
      connection: {},
    };
    expect(evaluate('connection.mtls', entry)).toBe(true);
    expect(evaluate('connection.tls_version', entry)).toBe('TLSv1.2');
    expect(evaluate('connection.uri_san_peer_certificate', entry)).toBe(
      'spiffe://cluster.local/ns/default/sa/sleep',
    );
    expect(evaluate('connection.uri_san_local_certificate', entry)).toBe(
      'spiffe://cluster.local/ns/default/sa/reviews',
    );
    expect(evaluate('connection.dns_san_peer_certificate', entry)).toBe('sleep.default.svc');
    // No DNS SAN: missing, so reading it is an error.
    expect(evaluate('connection.dns_san_local_certificate', entry)).toBeInstanceOf(CelError);
    expect(evaluate('connection.subject_peer_certificate', entry)).toBe('');
    expect(evaluate('connection.sha256_peer_certificate_digest', entry)).toBe(
      createHash('sha256').update(peer.raw).digest('hex'),
    );
    const id = evaluate('connection.id', entry);
    expect(id).toBeInstanceOf(CelUint);
    expect(evaluate('connection.id > 0u', entry)).toBe(true);
    expect(evaluate('xds.listener_direction', entry)).toBe(1n);
  });

  it('is not mTLS without a client certificate or without TLS; TLS fields are missing without TLS', async () => {
    const { local } = await certs();
    const noClientCert: AccessLogEntry = { ...BASE, downstreamTls: socket(undefined, local) };
    expect(evaluate('connection.mtls', noClientCert)).toBe(false);
    expect(evaluate('connection.uri_san_peer_certificate', noClientCert)).toBeInstanceOf(CelError);
    expect(evaluate('connection.mtls', BASE)).toBe(false);
    expect(evaluate('connection.tls_version', BASE)).toBeInstanceOf(CelError);
    expect(evaluate('connection.id', BASE)).toBeInstanceOf(CelError);
  });
});

describe('request, response, upstream and xds attributes', () => {
  it('reads header bytes and total sizes as ints', () => {
    // :method GET, :path /a?b=1, :authority reviews:9080, :scheme http, x-a bc.
    const headers = 7 + 3 + 5 + 6 + 10 + 12 + 7 + 4 + 3 + 2;
    expect(evaluate('request.headers_bytes', BASE)).toBe(BigInt(headers));
    expect(evaluate('request.total_size', BASE)).toBe(BigInt(headers + 3));
    // :status 200, x-b d.
    expect(evaluate('response.headers_bytes', BASE)).toBe(BigInt(7 + 3 + 3 + 1));
    expect(evaluate('response.total_size', BASE)).toBe(BigInt(7 + 3 + 3 + 1 + 5));
  });

  it("reads the upstream host's locality as a message and the listener direction", () => {
    expect(evaluate('upstream.locality.region', BASE)).toBe('us-east1');
    expect(evaluate("upstream.locality.zone == 'us-east1-b'", BASE)).toBe(true);
    expect(evaluate('upstream.locality.sub_zone', BASE)).toBe('');
    expect(evaluate('upstream.locality', { ...BASE, upstreamHost: null })).toBeInstanceOf(CelError);
    expect(evaluate('xds.listener_direction', BASE)).toBe(2n);
  });

  it('reads the listener direction in a tag override: inbound on the server, outbound on the client', () => {
    const tag = compileTagExpression("xds.listener_direction == 1 ? 'in' : 'out'");
    if (tag.kind !== 'value') throw new Error('not a value');
    expect(tag.problem).toBeNull();
    const event = (reporter: MetricEvent['reporter']): MetricEvent => ({
      reporter,
      source: UNKNOWN_PEER,
      destination: UNKNOWN_PEER,
      destinationService: {
        host: 'reviews.default.svc.cluster.local',
        name: 'reviews',
        namespace: 'default',
      },
      port: 9080,
      protocol: 'http',
      status: 200,
      flags: [],
      mtls: false,
      durationMs: 1,
      requestBytes: 0,
      responseBytes: 0,
    });
    expect(tag.value.evaluate(event('destination'))).toBe('in');
    expect(tag.value.evaluate(event('source'))).toBe('out');
  });

  it("reads jwt_authn's payload from metadata.filter_metadata, a Struct (numbers are doubles)", () => {
    const entry: AccessLogEntry = {
      ...BASE,
      dynamicMetadata: {
        'envoy.filters.http.jwt_authn': { payload: { sub: 'alice', groups: ['a', 'b'], exp: 1700000000 } },
      },
    };
    const jwt = "metadata.filter_metadata['envoy.filters.http.jwt_authn']";
    expect(evaluate(`${jwt}.payload.sub`, entry)).toBe('alice');
    expect(
      evaluate(`metadata['filter_metadata']['envoy.filters.http.jwt_authn'].payload.groups[1]`, entry),
    ).toBe('b');
    expect(evaluate(`${jwt}.payload.exp`, entry)).toBe(1700000000);
    expect(evaluate(`'a' in ${jwt}.payload.groups`, entry)).toBe(true);
    // No verified token: no such namespace.
    expect(evaluate(`${jwt}.payload.sub`, BASE)).toBeInstanceOf(CelError);
    expect(evaluate(`has(${jwt}.payload)`, entry)).toBe(true);
  });

  it('still reports what meshlet cannot read', () => {
    for (const [expr, use] of [
      ['upstream.cx_pool_ready_duration > duration("1s")', 'accessLog'],
      ['upstream.cx_pool_ready_duration > duration("1s")', 'metrics'],
      ["response.trailers['grpc-status'] == '0'", 'accessLog'],
      ["metadata.filter_metadata['envoy.filters.http.ext_authz'].status == 'x'", 'accessLog'],
      ["metadata['filter_metadata']['istio_authn'] == 'x'", 'accessLog'],
      ['size(metadata) > 0', 'accessLog'],
      ['has(metadata.typed_filter_metadata)', 'accessLog'],
    ] as const) {
      const c = compileCel(expr, use);
      expect(c.ok ? null : c.problem.kind, expr).toBe('unsupported');
    }
  });
});

describe('TLS facts as Envoy prints them', () => {
  it('orders a name bottom-up as RFC 2253, a multi-valued RDN too', () => {
    expect(rfc2253Name('O=meshlet\nCN=mesh CA')).toBe('CN=mesh CA,O=meshlet');
    expect(rfc2253Name('C=US\nCN=a + UID=b')).toBe('UID=b+CN=a,C=US');
    expect(rfc2253Name('')).toBe('');
  });

  it('reads the session id of an encoded SSL_SESSION as lower-case hex, null when it has none', () => {
    // SEQUENCE { INTEGER 1, INTEGER 0x0303, OCTET STRING cipher, OCTET STRING id, ... }
    const der = Uint8Array.from([
      0x30, 0x0f, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03, 0x03, 0x04, 0x02, 0x13, 0x02, 0x04, 0x02, 0xab, 0xcd,
    ]);
    expect(sessionIdOf(der)).toBe('abcd');
    const empty = Uint8Array.from([
      0x30, 0x0d, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03, 0x04, 0x04, 0x02, 0x13, 0x02, 0x04, 0x00,
    ]);
    expect(sessionIdOf(empty)).toBeNull();
    expect(sessionIdOf(undefined)).toBeNull();
  });
});
