import { connect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  certSourceFor,
  httpbin,
  meshClient,
  planFor,
  sampleText,
  startServer,
  type ClientTls,
} from './support.js';

// Envoy's inbound mTLS chain keeps stateless resumption on (DownstreamTlsContext
// disable_stateless_session_resumption false, one ticket key set per listener context),
// whatever ALPN a connection offered: a session a client got with ALPN resumes without it.

const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };

interface Visit {
  readonly reused: boolean;
  readonly status: string;
  readonly session: Buffer | undefined;
}

function visit(port: number, client: ClientTls, alpn: string[], session?: Buffer): Promise<Visit> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    let reused = false;
    let response = '';
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ...client,
      ALPNProtocols: alpn,
      ...(session === undefined ? {} : { session }),
      checkServerIdentity: () => undefined,
    });
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (c: Buffer) => (response += c.toString()));
    socket.on('close', () => resolve({ reused, status: response.split('\r\n')[0] ?? '', session: ticket }));
    socket.on('error', reject);
  });
}

describe('TLS session resumption on the inbound mTLS listener', () => {
  it.each([
    [['istio-http/1.1', 'istio', 'http/1.1'], []],
    [[], ['http/1.1']],
  ])('resumes a session got offering %j when the client then offers %j', async (first, second) => {
    const plan = planFor(httpbin('foo'), [STRICT]);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const client = await meshClient('bar', 'sleep');
    const a = await visit(port, client, first);
    expect(a.status).toBe('HTTP/1.1 200 OK');
    const b = await visit(port, client, second, a.session);
    expect(b).toMatchObject({ reused: true, status: 'HTTP/1.1 200 OK' });
  });
});
