import { describe, expect, it } from 'vitest';
import { tcpRelay } from './relay.js';
import { certSourceFor, httpbin, meshClient, planFor, startServer } from './support.js';
import { attempt } from './tls-attempt.js';

// Envoy's tls_inspector hands the bytes to BoringSSL, which reassembles a ClientHello spread
// over several handshake records, before the filter chain (by ALPN) is chosen (envoy
// source/extensions/listener_filters/tls_inspector/tls_inspector.cc). TLS allows any split
// of a handshake message into records (RFC 8446 §5.1), and the handshake transcript does not
// see the split, so a relay that re-frames the hello leaves the handshake intact.

/** A TCP relay to `port` that re-sends the client's first TLS record as records of at most `size` bytes. */
function reframingRelay(port: number, size: number): Promise<number> {
  return tcpRelay(port, (client, upstream) => {
    let pending: Buffer | null = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (pending === null) {
        upstream.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 5) return;
      const end = 5 + pending.readUInt16BE(3);
      if (pending.length < end) return;
      const header = pending.subarray(0, 3);
      for (let at = 5; at < end; at += size) {
        const body = pending.subarray(at, Math.min(at + size, end));
        const length = Buffer.alloc(2);
        length.writeUInt16BE(body.length);
        upstream.write(Buffer.concat([header, length, body]));
      }
      upstream.write(pending.subarray(end));
      pending = null;
    });
  });
}

describe('a ClientHello split over several TLS records under PERMISSIVE', () => {
  it.each([100, 7])('is read whole, its ALPN included, in records of %i bytes', async (size) => {
    const plan = planFor(httpbin('foo'));
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const relay = await reframingRelay(port, size);
    const client = await meshClient('bar', 'sleep');
    const mesh = await attempt(relay, client, { ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'] });
    expect(mesh).toMatchObject({ secured: true, status: 'HTTP/1.1 200 OK' });
    const other = await attempt(relay, client, { ALPNProtocols: ['http/1.1'] });
    expect(other).toMatchObject({ secured: false, status: null });
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['no-filter-chain']);
  });

  it('selects http/1.1 from a split hello that offers it', async () => {
    const plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const relay = await reframingRelay(port, 64);
    const { connect } = await import('node:tls');
    const client = await meshClient('bar', 'sleep');
    const selected = await new Promise<string | false>((resolve, reject) => {
      const socket = connect(
        {
          host: '127.0.0.1',
          port: relay,
          ...client,
          ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'],
          checkServerIdentity: () => undefined,
        },
        () => {
          resolve(socket.alpnProtocol ?? false);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    expect(selected).toBe('http/1.1');
  });
});
