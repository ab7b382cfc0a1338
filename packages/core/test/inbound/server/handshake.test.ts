import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { certSourceFor, httpbin, planFor, sampleText, startServer } from './support.js';

const strict = () =>
  planFor(httpbin('foo'), [
    { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') },
  ]);

async function connect(
  port: number,
): Promise<{ socket: Socket; closed: () => boolean; received: () => number }> {
  const socket = new Socket();
  let closed = false;
  let received = 0;
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => (received += c.length));
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', r));
  return { socket, closed: () => closed, received: () => received };
}

describe('createMeshServer handshake timeout', () => {
  it.each([
    [
      'a TLS client that stalls mid-ClientHello under STRICT',
      'STRICT',
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x80, 0x01]),
    ],
    ['a client that sends nothing under PERMISSIVE', 'PERMISSIVE', Buffer.alloc(0)],
  ] as const)('drops %s after handshakeTimeoutMs', async (_name, mode, bytes) => {
    const clock = createManualClock();
    const plan = mode === 'STRICT' ? strict() : planFor(httpbin('foo'));
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
      clock,
      handshakeTimeoutMs: 5000,
    });
    const client = await connect(port);
    if (bytes.length > 0) client.socket.write(bytes);
    await vi.waitFor(() => expect(clock.pending()).toBe(1));
    await clock.advance(4999);
    expect(client.closed()).toBe(false);
    await clock.advance(1);
    await vi.waitFor(() => expect(client.closed()).toBe(true));
    expect(client.received()).toBe(0);
    expect(refusals).toMatchObject([{ reason: 'handshake-timeout', mode, port }]);
    expect(clock.pending()).toBe(0);
  });

  it('clears the timer once a plaintext request arrives under PERMISSIVE', async () => {
    const clock = createManualClock();
    const plan = planFor(httpbin('foo'));
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: null,
      clock,
      handshakeTimeoutMs: 5000,
    });
    const client = await connect(port);
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(client.received()).toBeGreaterThan(0));
    expect(clock.pending()).toBe(0);
    await clock.advance(10_000);
    expect(client.closed()).toBe(false);
    expect(refusals).toEqual([]);
    client.socket.destroy();
  });

  it('fails a client that sends garbage after a TLS record header, in bounded time and without a response', async () => {
    const plan = strict();
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const client = await connect(port);
    client.socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10]), Buffer.alloc(16, 0xff)]));
    await vi.waitFor(() => expect(client.closed()).toBe(true));
    await vi.waitFor(() => expect(refusals.map((r) => r.reason)).toEqual(['handshake-failed']));
  });
});
