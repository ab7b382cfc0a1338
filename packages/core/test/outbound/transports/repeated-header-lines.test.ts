import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../../../src/outbound/transport.js';
import { createGotTransport } from '../../../src/outbound/transports/got-transport.js';
import { createUndiciTransport } from '../../../src/outbound/transports/undici-transport.js';

// What a request header given as an array looks like on the wire. Envoy's consistent hash on a
// header (hash_policy.cc HeaderHashMethod) hashes each header entry, and each line of a custom
// header is its own entry (header_map_impl.cc insertByKey), so meshlet must hash an array
// the way these lines reach Envoy: one line per value.

const servers: net.Server[] = [];
const transports: Transport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) await t.close();
  for (const s of servers.splice(0)) s.close();
});

/** A raw TCP server that records the request head and answers 200. */
async function rawServer(): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      heads.push(buf.slice(0, end));
      buf = '';
      sock.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, heads };
}

describe.each([
  ['undici', createUndiciTransport],
  ['got', createGotTransport],
])('the %s transport sends an array header', (_name, make) => {
  it('as one line per value, in order', async () => {
    const { port, heads } = await rawServer();
    const t = make();
    transports.push(t);
    const res = await t.request({
      url: new URL(`http://127.0.0.1:${port}/`),
      method: 'GET',
      headers: { host: 'reviews:9080', 'x-user': ['b', 'a'] },
      body: null,
      signal: null,
      connectTimeoutMs: 1000,
      tls: null,
      poolKey: `test-${port}`,
      pool: { maxConnections: 10, maxRequestsPerConnection: 0, idleTimeoutMs: 1000 },
    });
    if (typeof (res.body as { resume?: () => void }).resume === 'function')
      (res.body as { resume: () => void }).resume();
    expect(res.status).toBe(200);
    const lines = heads[0]!.split('\r\n').filter((l) => l.toLowerCase().startsWith('x-user:'));
    expect(lines.map((l) => l.slice('x-user:'.length).trim())).toEqual(['b', 'a']);
  });
});
