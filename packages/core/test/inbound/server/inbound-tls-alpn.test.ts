import { describe, expect, it } from 'vitest';
import { certSourceFor, httpbin, meshClient, planFor, sampleText, startServer } from './support.js';
import { handshake } from './tls-offer.js';

// A sidecar's inbound HTTP mTLS chain advertises ALPN ["h2", "http/1.1"] (istio
// pilot/pkg/security/authn/utils/utils.go BuildInboundTLS, util.ALPNHttp). Envoy picks the
// first of its own list the client offers and, with none in common, goes on without ALPN
// (source/common/tls/server_context_impl.cc alpnSelectCallback: SSL_TLSEXT_ERR_NOACK), so an
// Istio client's `istio-http/1.1, istio, http/1.1` gets `http/1.1` and a client offering only
// `istio-peer-exchange` still completes its handshake. meshlet serves HTTP/1.1 only: it
// selects `http/1.1` where Envoy would select `h2` too.

const FOO = httpbin('foo');
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };

describe('ALPN on the inbound mTLS listener', () => {
  it.each(['STRICT', 'PERMISSIVE'] as const)(
    'under %s selects http/1.1 when offered, and nothing, without failing, when not',
    async (mode) => {
      const plan = mode === 'STRICT' ? planFor(FOO, [STRICT]) : planFor(FOO);
      const { port, refusals } = await startServer({
        getPlan: () => plan,
        certs: await certSourceFor('foo', 'httpbin'),
      });
      const client = await meshClient('bar', 'sleep');
      const alpn = async (offered: string[]) =>
        (await handshake(port, client, { ALPNProtocols: offered })).alpn;
      expect(await alpn(['istio-http/1.1', 'istio', 'http/1.1'])).toBe('http/1.1');
      expect(await alpn(['istio-h2', 'h2', 'http/1.1'])).toBe('http/1.1');
      expect(await alpn(['istio-peer-exchange'])).toBe(false);
      expect(await alpn(['istio-peer-exchange', 'istio'])).toBe(false);
      expect(await alpn(['istio-h2', 'h2'])).toBe(false);
      expect(refusals).toEqual([]);
    },
  );

  it('under STRICT also completes handshakes that offer no Istio ALPN (PERMISSIVE has no chain for them)', async () => {
    const plan = planFor(FOO, [STRICT]);
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const client = await meshClient('bar', 'sleep');
    const alpn = async (offered: string[]) =>
      (await handshake(port, client, { ALPNProtocols: offered })).alpn;
    expect(await alpn(['h2', 'http/1.1'])).toBe('http/1.1');
    expect(await alpn(['h2'])).toBe(false);
    expect(await alpn([])).toBe(false);
    expect(refusals).toEqual([]);
  });
});
