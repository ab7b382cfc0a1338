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
      meshMTLS: { minVersion: 'TLSv1.3', ecdhCurves: [], cipherSuites: [] },
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
    plan = planFor(FOO, [STRICT], { meshMTLS: { minVersion: 'TLSv1.3', ecdhCurves: [], cipherSuites: [] } });
    await expect(negotiated(port, client, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });
});

describe('parsing meshMTLS', () => {
  it('reads minProtocolVersion, ecdhCurves and cipherSuites, and rejects TLS 1.0/1.1 for mesh traffic', async () => {
    const { loadConfigText } = await import('../../../src/config/load.js');
    const mesh = (body: string) =>
      loadConfigText(`apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
${body
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`);
    const ok = mesh('meshMTLS:\n  minProtocolVersion: TLSV1_3\n  ecdhCurves: [X25519, P-256]');
    expect(ok.diagnostics).toEqual([]);
    expect(ok.meshConfig.meshMTLS).toEqual({
      minVersion: 'TLSv1.3',
      ecdhCurves: ['X25519', 'P-256'],
      cipherSuites: [],
    });
    const bad = mesh('meshMTLS:\n  minProtocolVersion: TLSV1_1\n  cipherSuite: [X]');
    expect(bad.diagnostics.map((d) => [d.path, d.message])).toEqual([
      [
        'meshMTLS.minProtocolVersion',
        'Unsupported value: "TLSV1_1": mesh TLS supports TLS_AUTO, TLSV1_2 or TLSV1_3',
      ],
      ['meshMTLS.cipherSuite', 'unknown field "cipherSuite" (did you mean "cipherSuites"?)'],
    ]);
  });
});
