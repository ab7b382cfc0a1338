import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';

const relays: Server[] = [];
afterEach(() => {
  for (const r of relays.splice(0)) r.close();
});

/**
 * A TCP relay on loopback to `port`, closed after the test: `forward` passes the client's
 * bytes on to `upstream` as the test wants them; the upstream's go back unchanged, and
 * either side closing or failing closes both. Resolves with the relay's port.
 */
export async function tcpRelay(
  port: number,
  forward: (client: Socket, upstream: Socket) => void,
): Promise<number> {
  const relay = createServer((client) => {
    const upstream = tcpConnect(port, '127.0.0.1');
    forward(client, upstream);
    upstream.pipe(client);
    for (const s of [client, upstream]) s.on('error', () => (client.destroy(), upstream.destroy()));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  relays.push(relay);
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  return (relay.address() as AddressInfo).port;
}
