import { describe, expect, it } from 'vitest';
import { tcpRelay } from './relay.js';
import { certSourceFor, httpbin, meshClient, planFor, startServer } from './support.js';
import { handshake } from './tls-offer.js';

// Envoy's tls_inspector reads the whole ClientHello, however it arrives, before the filter
// chain and its ALPN are chosen (envoy source/extensions/listener_filters/tls_inspector).

/** A TCP relay to `port` that sends the client's bytes on in pieces of `size`, 2 ms apart. */
function choppingRelay(port: number, size: number): Promise<number> {
  return tcpRelay(port, (client, upstream) => {
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i += size) {
        const piece = chunk.subarray(i, i + size);
        queue = queue.then(
          () => new Promise((r) => setTimeout(() => (upstream.write(piece), r(undefined)), 2)),
        );
      }
    });
  });
}

describe('ALPN with a ClientHello that arrives in pieces', () => {
  it.each([4, 200])('still selects http/1.1 when the hello comes %i bytes at a time', async (size) => {
    const plan = planFor(httpbin('foo'));
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const relay = await choppingRelay(port, size);
    const chosen = await handshake(relay, await meshClient('bar', 'sleep'), {
      ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'],
    });
    expect(chosen.alpn).toBe('http/1.1');
    expect(refusals).toEqual([]);
  });
});
