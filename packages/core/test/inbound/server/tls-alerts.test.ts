import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createDevCa, issueWorkloadCertificate } from '../../../src/identity/dev-ca.js';
import { sharedCa } from '../../identity/support.js';
import {
  certSourceFor,
  certlessClient,
  httpbin,
  meshClient,
  planFor,
  sampleText,
  startServer,
  type ClientTls,
} from './support.js';
import { attempt } from './tls-attempt.js';

// What a client whose certificate fails sees from an Istio sidecar's inbound mTLS chain
// (DownstreamTlsContext require_client_certificate, a validation context with the mesh root
// and SPIFFE trust-domain SAN matchers: istio pilot/pkg/security/authn/utils/utils.go
// BuildInboundTLS, pilot/pkg/security/model/authentication.go ApplyToCommonTLSContext).
// BoringSSL fails the handshake with a TLS alert:
// - no certificate: certificate_required on TLS 1.3 (ssl/tls13_both.cc tls13_process_certificate),
//   handshake_failure on TLS 1.2 (ssl/handshake_server.cc do_read_client_certificate);
// - a chain that does not verify: SSL_alert_from_verify_result of the X509 error, unknown_ca for
//   an unknown issuer, certificate_expired for an expired leaf (envoy
//   source/common/tls/cert_validator/default_validator.cc doVerifyCertChain);
// - a verified chain whose SANs no matcher takes (another trust domain): certificate_unknown
//   (doVerifyCertChain's default tls_alert; the SAN matcher sets none).
// Node's TLS server can send the first (OpenSSL, SSL_VERIFY_FAIL_IF_NO_PEER_CERT with
// rejectUnauthorized); it checks a presented chain only after OpenSSL's handshake (its
// verify callback always continues), so the others end the connection without an alert.

const FOO = httpbin('foo');
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };
/** What an Istio (or meshlet) client offers over ISTIO_MUTUAL for HTTP/1.1. */
const ISTIO_ALPN = ['istio-http/1.1', 'istio', 'http/1.1'];

const modes = [
  ['STRICT', () => planFor(FOO, [STRICT])],
  ['PERMISSIVE', () => planFor(FOO)],
] as const;

describe.each(modes)('the inbound mTLS handshake under %s', (_mode, plan) => {
  const start = async () => {
    const p = plan();
    return startServer({ getPlan: () => p, certs: await certSourceFor('foo', 'httpbin') });
  };

  it('sends certificate_required to a TLS 1.3 client without a certificate', async () => {
    const { port, refusals } = await start();
    const seen = await attempt(port, await certlessClient(), {
      ALPNProtocols: ISTIO_ALPN,
      minVersion: 'TLSv1.3',
    });
    expect(seen).toMatchObject({
      code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      reason: 'tlsv13 alert certificate required',
      status: null,
    });
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['no-client-certificate']);
  });

  it('sends handshake_failure to a TLS 1.2 client without a certificate, before its handshake completes', async () => {
    const { port, refusals } = await start();
    const seen = await attempt(port, await certlessClient(), {
      ALPNProtocols: ISTIO_ALPN,
      maxVersion: 'TLSv1.2',
    });
    // OpenSSL 3.0 (Node 20) names TLS 1.2 alerts `sslv3 alert ...`, 3.5 (Node 24) `ssl/tls alert ...`.
    expect(seen).toEqual({
      secured: false,
      code: expect.stringMatching(/^ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE$/),
      reason: expect.stringMatching(/^(sslv3|ssl\/tls) alert handshake failure$/),
      status: null,
    });
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['no-client-certificate']);
  });
});

/** What `openssl s_client` says on stderr when it connects as a certificateless Istio client. */
function sClient(port: number, version: '-tls1_2' | '-tls1_3'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, version, '-alpn', ISTIO_ALPN.join(','), '-quiet'],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(stderr));
    child.stdin.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

describe('the TLS alert on the wire', () => {
  it('is certificate_required (116) on TLS 1.3 and handshake_failure (40) on TLS 1.2, as openssl s_client reads it', async () => {
    const plan = planFor(FOO, [STRICT]);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    expect(await sClient(port, '-tls1_3')).toMatch(/tlsv13 alert certificate required.*SSL alert number 116/);
    expect(await sClient(port, '-tls1_2')).toMatch(/sslv3 alert handshake failure.*SSL alert number 40/);
  });
});

describe('a client certificate that does not verify', () => {
  const foreignClient = async (): Promise<ClientTls> => {
    const foreign = await issueWorkloadCertificate({
      ca: await createDevCa({ commonName: 'foreign' }),
      namespace: 'bar',
      serviceAccount: 'sleep',
    });
    return { key: foreign.keyPem, cert: foreign.certChainPem, ca: (await sharedCa()).rootCertPem };
  };
  const expiredClient = async (): Promise<ClientTls> => {
    const ca = await sharedCa();
    const expired = await issueWorkloadCertificate({
      ca,
      namespace: 'bar',
      serviceAccount: 'sleep',
      ttl: '1h',
      now: () => Date.now() - 3 * 3_600_000,
    });
    return { key: expired.keyPem, cert: expired.certChainPem, ca: ca.rootCertPem };
  };

  it.each([
    ['from an unknown CA', foreignClient, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/],
    ['that has expired', expiredClient, /CERT_HAS_EXPIRED/],
  ] as const)(
    'fails a TLS 1.2 client %s in its handshake, never served, under STRICT and PERMISSIVE',
    async (_name, make, why) => {
      const client = await make();
      for (const [, plan] of modes) {
        const p = plan();
        const { port, refusals } = await startServer({
          getPlan: () => p,
          certs: await certSourceFor('foo', 'httpbin'),
        });
        const seen = await attempt(port, client, { ALPNProtocols: ISTIO_ALPN, maxVersion: 'TLSv1.2' });
        // Envoy: unknown_ca / certificate_expired before the server's Finished. Node sends no
        // alert, but the handshake still fails before the client completes it.
        expect(seen).toMatchObject({ secured: false, status: null });
        await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer']);
        expect(refusals[0]?.detail).toMatch(why);
      }
    },
  );

  it('never serves a TLS 1.3 client from an unknown CA or with an expired certificate', async () => {
    const p = planFor(FOO, [STRICT]);
    const { port, refusals } = await startServer({
      getPlan: () => p,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    for (const make of [foreignClient, expiredClient]) {
      const seen = await attempt(port, await make(), { ALPNProtocols: ISTIO_ALPN, minVersion: 'TLSv1.3' });
      // TLS 1.3 clients finish their handshake before sending a certificate; Envoy's alert
      // (unknown_ca, certificate_expired) would be their first read. Here: the connection ends.
      expect(seen.status).toBeNull();
    }
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer', 'untrusted-peer']);
  });

  it('still refuses a verified certificate of another trust domain, and serves an accepted one', async () => {
    const p = planFor(FOO, [STRICT]);
    const { port, refusals } = await startServer({
      getPlan: () => p,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const evil = await attempt(port, await meshClient('bar', 'sleep', 'evil.example.org'), {
        ALPNProtocols: ISTIO_ALPN,
        maxVersion,
      });
      expect(evil.status).toBeNull();
    }
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer', 'untrusted-peer']);
    expect(refusals[0]?.detail).toContain('evil.example.org');
    const ok = await attempt(port, await meshClient('bar', 'sleep'), { ALPNProtocols: ISTIO_ALPN });
    expect(ok).toMatchObject({ secured: true, status: 'HTTP/1.1 200 OK' });
  });
});
