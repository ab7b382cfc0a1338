import { describe, expect, it } from 'vitest';
import { certSourceFor, httpbin, meshClient, planFor, sampleText, startServer } from './support.js';
import { handshake } from './tls-offer.js';

// The cipher suites of a sidecar's inbound mTLS filter chain: istio
// pilot/pkg/security/authn/utils/utils.go BuildInboundTLS sets SupportedCiphers (six
// AES-GCM suites) unless meshMTLS.cipherSuites; Envoy picks by the server's order
// (DownstreamTlsContext prefer_client_ciphers false), as node's tls.Server does by default.

const FOO = httpbin('foo');
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };
const TLS12 = { maxVersion: 'TLSv1.2' as const };

async function strictServer() {
  const plan = planFor(FOO, [STRICT]);
  return startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
}

describe('the TLS 1.2 cipher suites of the inbound mTLS listener', () => {
  it.each(['ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA'])(
    'refuses a client offering only %s, outside Istio SupportedCiphers, at the handshake',
    async (cipher) => {
      const { port, refusals } = await strictServer();
      const client = await meshClient('bar', 'sleep');
      await expect(handshake(port, client, { ...TLS12, ciphers: cipher })).rejects.toThrow();
      await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['handshake-failed']);
      // The same client is served with a suite of the list, RSA key exchange included.
      for (const ok of ['ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256'])
        expect((await handshake(port, client, { ...TLS12, ciphers: ok })).cipher).toBe(ok);
    },
  );

  it("picks by the server's order (ECDHE-RSA-AES256-GCM-SHA384 first), not the client's", async () => {
    const { port } = await strictServer();
    const ciphers = 'AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384';
    const chosen = await handshake(port, await meshClient('bar', 'sleep'), { ...TLS12, ciphers });
    expect(chosen.cipher).toBe('ECDHE-RSA-AES256-GCM-SHA384');
  });
});
