import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBodyPrefix, RequestBodyError, type BodyPrefix } from '../../src/inbound/request-body.js';
import { countPushedBytes, type ByteCount } from '../../src/telemetry/wire-bytes.js';
import { sendInParts } from '../helpers/send-parts.js';

interface Seen {
  prefix?: BodyPrefix;
  error?: unknown;
  app?: Buffer;
  counted?: ByteCount;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/**
 * A real server that waits `delayMs` (so the body may already be buffered, and the socket
 * paused), reads a prefix of `max` bytes, waits again, then reads the body as an app would.
 */
async function server(max: number, delayMs: number, seen: Seen[]): Promise<number> {
  const s = createServer((req: IncomingMessage, res) => {
    const entry: Seen = { counted: countPushedBytes(req) };
    seen.push(entry);
    void (async () => {
      await new Promise((r) => setTimeout(r, delayMs));
      try {
        entry.prefix = await readBodyPrefix(req, max);
      } catch (error) {
        entry.error = error;
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      entry.app = Buffer.concat(chunks);
      res.end('ok');
    })();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

const post = async (port: number, parts: Buffer[]): Promise<number> =>
  (await sendInParts(port, parts, { chunked: true, gapMs: 5 })).status;

const big = Buffer.alloc(200_000, 'a');

describe('readBodyPrefix', () => {
  it.each([
    ['a body read as it arrives', 0, 10],
    ['a body that arrived (and paused the socket) before the read', 60, 10],
    // More than node buffers before pausing the socket: the read must resume it.
    ['a long prefix of a body that paused the socket', 60, 150_000],
  ])('reads the prefix of %s and leaves all of it to the app', async (_name, delayMs, max) => {
    const seen: Seen[] = [];
    const port = await server(max, delayMs, seen);
    expect(await post(port, [big.subarray(0, 70_000), big.subarray(70_000)])).toBe(200);
    expect(seen[0]!.prefix).toEqual({ bytes: big.subarray(0, max), truncated: true });
    expect(seen[0]!.app!.length).toBe(big.length);
    // Telemetry's byte count sees each byte once.
    expect(seen[0]!.counted!.bytes).toBe(big.length);
  });

  it.each([0, 60])('reads a small body whole (waiting %i ms first), not truncated', async (delayMs) => {
    const seen: Seen[] = [];
    const port = await server(100, delayMs, seen);
    expect(await post(port, [Buffer.from('hello '), Buffer.from('world')])).toBe(200);
    expect(seen[0]!.prefix).toEqual({ bytes: Buffer.from('hello world'), truncated: false });
    expect(seen[0]!.app!.toString()).toBe('hello world');
  });

  it('handles a chunked body that turns out empty without ending the stream early', async () => {
    const seen: Seen[] = [];
    const port = await server(100, 0, seen);
    expect(await post(port, [])).toBe(200);
    expect(seen[0]!.prefix).toEqual({ bytes: Buffer.alloc(0), truncated: false });
    expect(seen[0]!.app!.length).toBe(0);
  });

  it('rejects with RequestBodyError when the client goes away mid-body', async () => {
    const seen: Seen[] = [];
    const port = await server(100, 0, seen);
    const req = httpRequest({ port, method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
    req.on('error', () => undefined);
    req.write('partial');
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    req.destroy();
    while (seen[0]!.error === undefined) await new Promise((r) => setTimeout(r, 5));
    expect(seen[0]!.error).toBeInstanceOf(RequestBodyError);
  });
});
