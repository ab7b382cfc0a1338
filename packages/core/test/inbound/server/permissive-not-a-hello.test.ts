import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { certSourceFor, httpbin, planFor, startServer } from './support.js';

// Under PERMISSIVE, Envoy's tls_inspector marks a connection TLS only when its first bytes
// parse as a ClientHello (envoy source/extensions/listener_filters/tls_inspector); otherwise
// the transport protocol stays raw_buffer and the plaintext HTTP filter chain (istio
// pilot/pkg/networking/core/filterchain_options.go
// inboundPermissiveHTTPFilterChainMatchWithMxcOptions) parses the bytes as HTTP/1 and
// answers 400 to what is not HTTP.

async function exchange(port: number, bytes: Buffer): Promise<string> {
  const socket = new Socket();
  let received = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', r));
  socket.write(bytes);
  await vi.waitFor(() => expect(closed).toBe(true));
  return received;
}

describe('a handshake record that is not a ClientHello under PERMISSIVE', () => {
  it.each([
    [
      'a record of garbage',
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10]), Buffer.alloc(16, 0xff)]),
    ],
    [
      'a truncated ClientHello body',
      Buffer.concat([
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x00, 0x06]),
        Buffer.alloc(6, 0x03),
      ]),
    ],
  ])('goes to the plaintext chain: %s gets HTTP 400', async (_name, bytes) => {
    const plan = planFor(httpbin('foo'));
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    expect(await exchange(port, bytes)).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(refusals).toEqual([]);
  });
});
