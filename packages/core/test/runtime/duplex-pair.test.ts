import { describe, expect, it } from 'vitest';
import { duplexPair } from '../../src/runtime/duplex-pair.js';

// The in-process connection under mesh.createConnection: two ends behaving as the two ends
// of a TCP connection do for node's HTTP client and server.

const read = (end: NodeJS.ReadableStream): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    end.on('data', (c: Buffer) => (text += c.toString()));
    end.on('end', () => resolve(text));
  });

describe('duplexPair', () => {
  it('carries what one end writes to the other, both ways', async () => {
    const [a, b] = duplexPair();
    const toB = read(b);
    const toA = read(a);
    a.write('ping ');
    b.write('pong');
    a.end('done');
    expect(await toB).toBe('ping done');
    b.end();
    expect(await toA).toBe('pong');
  });

  it('ends the other end’s output once its input ended, then both close, as a TCP socket without half-open', async () => {
    const [a, b] = duplexPair();
    const closed = Promise.all([
      new Promise((r) => a.once('close', r)),
      new Promise((r) => b.once('close', r)),
    ]);
    a.resume();
    b.resume();
    a.end();
    await closed;
    expect(b.writableEnded).toBe(true);
  });

  it('resets the other end when one is destroyed with an error', async () => {
    const [a, b] = duplexPair();
    const failed = new Promise<NodeJS.ErrnoException>((r) => b.once('error', r));
    a.on('error', () => {});
    a.destroy(new Error('boom'));
    expect((await failed).code).toBe('ECONNRESET');
  });

  it('refuses a write once the other end is gone, EPIPE', async () => {
    const [a, b] = duplexPair();
    b.destroy();
    const failed = new Promise<NodeJS.ErrnoException>((r) => a.once('error', r));
    a.write('late');
    expect((await failed).code).toBe('EPIPE');
  });

  it('times an idle end out as a socket does, and not one that hears from the other end', async () => {
    const [a, b] = duplexPair();
    let timeouts = 0;
    a.setTimeout(40, () => timeouts++);
    b.resume();
    const busy = setInterval(() => b.write('x'), 10);
    a.resume();
    await new Promise((r) => setTimeout(r, 100));
    clearInterval(busy);
    expect(timeouts).toBe(0);
    await new Promise((r) => a.once('timeout', r));
    expect(timeouts).toBe(1);
    a.destroy();
  });
});
