import { describe, expect, it } from 'vitest';
import {
  certSourceFor,
  certlessClient,
  httpbin,
  meshClient,
  planFor,
  plainGet,
  sampleText,
  startServer,
} from './support.js';
import { attempt } from './tls-attempt.js';

// istiod's inbound filter chains for an HTTP port (pilot/pkg/networking/core/
// filterchain_options.go, chosen by getFilterChainMatchOptions):
// - PERMISSIVE (inboundPermissiveHTTPFilterChainMatchWithMxcOptions): mTLS only for
//   transport_protocol "tls" with application_protocols allIstioMtlsALPNs (istio,
//   istio-peer-exchange, istio-http/1.0, istio-http/1.1, istio-h2; listener.go), plaintext for
//   raw_buffer, and nothing else: "We do not need to handle other simple TLS".
// - STRICT (inboundStrictHTTPFilterChainMatchOptions): one chain, transport_protocol "tls",
//   no application_protocols.
// A TLS connection on the port that matches none of its chains gets no chain at all (envoy
// source/common/listener_manager/filter_chain_manager_impl.cc findFilterChain: a port with
// chains of its own never falls back to the port-less passthrough ones, and the virtual
// inbound listener has no default_filter_chain), and Envoy closes it before any TLS
// handshake: istio's sidecar_simulation_test.go TestInbound "https to http" and "tls to
// http" expect ErrNoFilterChain under PERMISSIVE, a handshake failure (no client
// certificate) under STRICT, and "mtls to http" (ALPN istio-http/1.1) served under both.

const FOO = httpbin('foo');
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };
const ISTIO_ALPNS = ['istio-peer-exchange', 'istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'];
const OTHER_OFFERS = [[], ['http/1.1'], ['h2', 'http/1.1'], ['h2']].map(
  (o) => [JSON.stringify(o), o] as const,
);

describe('a TLS client without an Istio ALPN on an HTTP port', () => {
  it.each(OTHER_OFFERS)(
    'under PERMISSIVE, offering %s, is closed before any handshake, however good its certificate',
    async (_name, offered) => {
      const plan = planFor(FOO);
      const { port, refusals } = await startServer({
        getPlan: () => plan,
        certs: await certSourceFor('foo', 'httpbin'),
      });
      const seen = await attempt(port, await meshClient('bar', 'sleep'), { ALPNProtocols: [...offered] });
      expect(seen).toMatchObject({ secured: false, reason: null, status: null });
      expect(seen.code).toBe('ECONNRESET');
      await expect
        .poll(() => refusals.map((r) => [r.reason, r.mode]))
        .toEqual([['no-filter-chain', 'PERMISSIVE']]);
      expect(refusals[0]?.detail).toMatch(/istio-http\/1\.1/);
    },
  );

  it('under PERMISSIVE gets no certificate_required alert either when it has no certificate', async () => {
    const plan = planFor(FOO);
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const seen = await attempt(port, await certlessClient(), { ALPNProtocols: ['http/1.1'] });
    expect(seen).toMatchObject({ secured: false, code: 'ECONNRESET', reason: null, status: null });
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['no-filter-chain']);
  });

  it.each(OTHER_OFFERS)('under STRICT, offering %s, is served', async (_name, offered) => {
    const plan = planFor(FOO, [STRICT]);
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const seen = await attempt(port, await meshClient('bar', 'sleep'), { ALPNProtocols: [...offered] });
    expect(seen).toMatchObject({ secured: true, status: 'HTTP/1.1 200 OK' });
    expect(refusals).toEqual([]);
  });
});

describe('a TLS client offering an Istio ALPN under PERMISSIVE', () => {
  it.each(ISTIO_ALPNS)('is served when it offers %s alone', async (alpn) => {
    const plan = planFor(FOO);
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const seen = await attempt(port, await meshClient('bar', 'sleep'), { ALPNProtocols: [alpn] });
    expect(seen).toMatchObject({ secured: true, status: 'HTTP/1.1 200 OK' });
    expect(refusals).toEqual([]);
  });

  it("is served when it offers what meshlet's and Istio's clients offer, and plaintext still is", async () => {
    const plan = planFor(FOO);
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const seen = await attempt(port, await meshClient('bar', 'sleep'), {
      ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'],
    });
    expect(seen).toMatchObject({ secured: true, status: 'HTTP/1.1 200 OK' });
    expect((await plainGet(port)).status).toBe(200);
    expect(refusals).toEqual([]);
  });
});
