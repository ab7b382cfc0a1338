import { describe, expect, it } from 'vitest';
import { certSourceFor, httpbin, meshClient, planFor, sampleText, startServer } from './support.js';
import { handshake } from './tls-offer.js';

// A sidecar's inbound mTLS filter chain sets no ecdh_curves (istio
// pilot/pkg/security/authn/utils/utils.go BuildInboundTLS; meshMTLS.ecdhCurves is refused
// by validation), so Envoy's server default applies: "X25519:P-256"
// (envoy source/common/tls/server_context_config_impl.cc DEFAULT_CURVES).

const FOO = httpbin('foo');
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };
const ECDHE_ONLY = 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256';

async function strictServer() {
  const plan = planFor(FOO, [STRICT]);
  return startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
}

describe('the ECDH curves of the inbound mTLS listener', () => {
  it('over TLS 1.3 accept X25519 and P-256 only', async () => {
    const { port, refusals } = await strictServer();
    const client = await meshClient('bar', 'sleep');
    const pinned = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
    await expect(handshake(port, client, { ...pinned, ecdhCurve: 'P-384' })).rejects.toThrow();
    await expect(handshake(port, client, { ...pinned, ecdhCurve: 'P-521' })).rejects.toThrow();
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['handshake-failed', 'handshake-failed']);
    await expect(handshake(port, client, { ...pinned, ecdhCurve: 'X25519' })).resolves.toBeTruthy();
    await expect(handshake(port, client, { ...pinned, ecdhCurve: 'P-256' })).resolves.toBeTruthy();
  });

  it('over TLS 1.2 leave a P-384-only client no ECDHE suite: the RSA key exchange, or no handshake', async () => {
    const { port, refusals } = await strictServer();
    const client = await meshClient('bar', 'sleep');
    const tls12 = { maxVersion: 'TLSv1.2', ecdhCurve: 'P-384' } as const;
    expect((await handshake(port, client, tls12)).cipher).toBe('AES256-GCM-SHA384');
    await expect(handshake(port, client, { ...tls12, ciphers: ECDHE_ONLY })).rejects.toThrow();
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['handshake-failed']);
    const p256 = await handshake(port, client, { ...tls12, ecdhCurve: 'P-256', ciphers: ECDHE_ONLY });
    expect(p256.cipher).toBe('ECDHE-RSA-AES256-GCM-SHA384');
  });
});
