import { connect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  certSourceFor,
  httpbin,
  meshClient,
  planFor,
  sampleText,
  startServer,
  tlsGet,
  type ClientTls,
} from './support.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';

const FOO = httpbin('foo');
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };

/** The protocol a mesh client negotiates with the server (its own TLS options on top). */
function negotiated(
  port: number,
  client: ClientTls,
  extra: { maxVersion?: 'TLSv1.2' } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect(
      { host: '127.0.0.1', port, ...client, ...extra, checkServerIdentity: () => undefined },
      () => {
        resolve(socket.getProtocol() ?? '');
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

describe('createMeshServer with meshConfig meshMTLS', () => {
  it('accepts TLS 1.2 mesh clients by default, as Istio (TLS_AUTO)', async () => {
    const plan = planFor(FOO, [STRICT]);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    expect(await negotiated(port, await meshClient('bar', 'sleep'), { maxVersion: 'TLSv1.2' })).toBe(
      'TLSv1.2',
    );
  });

  it('with minProtocolVersion TLSV1_3 refuses a TLS 1.2 client at the handshake and serves TLS 1.3 ones', async () => {
    const plan = planFor(FOO, [STRICT], {
      meshMTLS: { minVersion: 'TLSv1.3', cipherSuites: [] },
    });
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const client = await meshClient('bar', 'sleep');
    await expect(negotiated(port, client, { maxVersion: 'TLSv1.2' })).rejects.toThrow(
      /protocol|version|alert/i,
    );
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['handshake-failed']);
    expect(await negotiated(port, client)).toBe('TLSv1.3');
    const reply = await tlsGet(port, client);
    expect(reply.status).toBe(200);
    expect(reply.body.peer).toMatchObject({ principal: 'cluster.local/ns/bar/sa/sleep' });
  });

  it('applies a meshMTLS change from the next handshake, as a config reload would', async () => {
    let plan = planFor(FOO, [STRICT]);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const client = await meshClient('bar', 'sleep');
    expect(await negotiated(port, client, { maxVersion: 'TLSv1.2' })).toBe('TLSv1.2');
    plan = planFor(FOO, [STRICT], { meshMTLS: { minVersion: 'TLSv1.3', cipherSuites: [] } });
    await expect(negotiated(port, client, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });
});

describe('parsing meshMTLS and tlsDefaults', () => {
  const mesh = async (body: string) => {
    const { loadConfigText } = await import('../../../src/config/load.js');
    return loadConfigText(istioConfigMap(body));
  };

  it('reads minProtocolVersion and cipherSuites for the mesh server, and curves and ciphers for tlsDefaults', async () => {
    const ok = await mesh(
      'meshMTLS:\n  minProtocolVersion: TLSV1_3\n  cipherSuites: [ECDHE-RSA-AES256-GCM-SHA384]\ntlsDefaults:\n  ecdhCurves: [X25519, P-256]',
    );
    expect(ok.diagnostics).toEqual([]);
    expect(ok.meshConfig.meshMTLS).toEqual({
      minVersion: 'TLSv1.3',
      cipherSuites: ['ECDHE-RSA-AES256-GCM-SHA384'],
    });
    expect(ok.meshConfig.tlsDefaults).toEqual({
      ecdhCurves: ['X25519', 'P-256'],
      cipherSuites: [],
      minProtocolVersion: null,
    });
  });

  it("reports what istio's mesh config validation reports", async () => {
    const bad = await mesh(
      'meshMTLS:\n  minProtocolVersion: TLSV1_1\n  ecdhCurves: [X25519]\n  cipherSuite: [X]\ntlsDefaults:\n  ecdhCurves: [P-999, X25519, X25519]\n  minProtocolVersion: TLSV1_3',
    );
    expect(bad.diagnostics.map((d) => [d.level, d.path, d.message])).toEqual([
      [
        'Error',
        'meshMTLS.minProtocolVersion',
        'Unsupported value: "TLSV1_1": supported values: TLS_AUTO, TLSV1_2, TLSV1_3',
      ],
      ['Error', 'meshMTLS.cipherSuite', 'unknown field "cipherSuite" (did you mean "cipherSuites"?)'],
      ['Error', 'meshMTLS.ecdhCurves', 'mesh TLS does not support ECDH curves configuration'],
      ['Warning', 'tlsDefaults.ecdhCurves', 'detected unrecognized ECDH curves: [P-999]'],
      ['Warning', 'tlsDefaults.ecdhCurves', 'detected duplicate ECDH curves: [X25519]'],
    ]);
    // Read, not reported: it applies to a gateway's SIMPLE and MUTUAL servers (test/e2e/gateway-tls.test.ts).
    expect(bad.meshConfig.tlsDefaults.minProtocolVersion).toBe('TLSv1.3');
  });

  it('reads caCertificates and reports entries it cannot use', async () => {
    const { createDevCa } = await import('../../../src/identity/dev-ca.js');
    const root = (await createDevCa()).rootCertPem;
    const pem = JSON.stringify(root);
    const broken = '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----';
    const snap = await mesh(`caCertificates:
- pem: ${pem}
  trustDomains: [partner.example]
- spiffeBundleUrl: https://bundles.partner.example/bundle
- pem: not a certificate
- pem: ${pem}
  spiffeBundleUrl: https://x
- pem: ${pem}
  trustDomain: [typo]
- pem: "${broken}"`);
    expect(snap.diagnostics.map((d) => [d.level, d.path, d.message])).toEqual([
      [
        'Warning',
        'caCertificates[1].spiffeBundleUrl',
        "meshlet does not fetch SPIFFE trust bundles: give the bundle's root certificates as pem",
      ],
      ['Error', 'caCertificates[2].pem', 'expected PEM certificates (-----BEGIN CERTIFICATE-----)'],
      ['Error', 'caCertificates[3]', 'set exactly one of pem or spiffeBundleUrl'],
      ['Error', 'caCertificates[4].trustDomain', 'unknown field "trustDomain"'],
      ['Error', 'caCertificates[5].pem', expect.stringMatching(/^certificate 1 is not valid X\.509/)],
    ]);
    const good = await mesh(`caCertificates:\n- pem: ${pem}\n  trustDomains: [partner.example]`);
    expect(good.diagnostics).toEqual([]);
    expect(good.meshConfig.caCertificates).toEqual([
      { pem: root, spiffeBundleUrl: null, trustDomains: ['partner.example'], certSigners: [] },
    ]);
  });
});
