import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../../src/outbound/transport.js';
import { createMemoryTransport } from '../../../src/outbound/transports/memory-transport.js';
import { transportRequest, text } from './support/request.js';

describe('createMemoryTransport', () => {
  it('routes each attempt by address:port to its handler', async () => {
    const t = createMemoryTransport({
      '10.0.0.1:9080': (req) => ({ status: 200, headers: { 'X-Who': 'v1' }, body: `v1 ${req.url.pathname}` }),
      '10.0.0.2:9080': () => ({ status: 503, body: Buffer.from('v2 down') }),
    });
    const a = await t.request(transportRequest('http://10.0.0.1:9080/reviews/0'));
    const b = await t.request(transportRequest('http://10.0.0.2:9080/reviews/0'));
    expect([a.status, a.headers['x-who'], await text(a.body)]).toEqual([200, 'v1', 'v1 /reviews/0']);
    expect([b.status, await text(b.body)]).toEqual([503, 'v2 down']);
  });

  it('keys a URL without a port by its scheme default port', async () => {
    const t = createMemoryTransport({ '10.0.0.1:80': () => ({ status: 204 }) });
    expect((await t.request(transportRequest('http://10.0.0.1/'))).status).toBe(204);
  });

  it('fails an unknown endpoint as a connect failure before sending', async () => {
    const t = createMemoryTransport();
    const err = await t.request(transportRequest('http://10.9.9.9:80/')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('connect-failure');
    expect((err as TransportError).beforeRequestSent).toBe(true);
  });

  it('fails a throwing handler as a reset after sending', async () => {
    const t = createMemoryTransport({
      '10.0.0.1:80': () => {
        throw new Error('boom');
      },
    });
    const err = await t.request(transportRequest('http://10.0.0.1/')).catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('reset');
    expect((err as TransportError).beforeRequestSent).toBe(false);
  });

  it('rejects with aborted when the signal fires while the handler works, and mid-body', async () => {
    let release = (): void => {};
    const t = createMemoryTransport({
      '10.0.0.1:80': () => new Promise((r) => (release = () => r({ status: 200 }))),
      '10.0.0.2:80': () => ({ status: 200, body: new Readable({ read() {} }) }),
    });
    const ac = new AbortController();
    const pending = t.request(transportRequest('http://10.0.0.1/', { signal: ac.signal }));
    ac.abort();
    release();
    expect(((await pending.catch((e: unknown) => e)) as TransportError).failure).toBe('aborted');

    const ac2 = new AbortController();
    const res = await t.request(transportRequest('http://10.0.0.2/', { signal: ac2.signal }));
    const failed = new Promise<unknown>((r) => res.body.once('error', r));
    ac2.abort();
    expect(((await failed) as TransportError).failure).toBe('aborted');
  });

  it("aborts through the request's `abort` without reading its `signal`, and lets go of its listeners", async () => {
    const listeners = new Set<() => void>();
    const abort = {
      aborted: false,
      reason: undefined as unknown,
      onAbort: (fn: () => void) => void listeners.add(fn),
      offAbort: (fn: () => void) => void listeners.delete(fn),
      fire(reason: unknown): void {
        this.aborted = true;
        this.reason = reason;
        for (const fn of [...listeners]) fn();
        listeners.clear();
      },
    };
    const withAbort = (url: string) => {
      const base = transportRequest(url);
      return Object.defineProperties(
        { ...base, abort },
        {
          signal: {
            get: () => {
              throw new Error('the memory transport read the signal');
            },
          },
        },
      );
    };
    let release = (): void => {};
    const t = createMemoryTransport({
      '10.0.0.1:80': () => new Promise((r) => (release = () => r({ status: 200 }))),
      '10.0.0.2:80': () => ({ status: 200, body: new Readable({ read() {} }) }),
      '10.0.0.3:80': () => ({ status: 200, body: 'done' }),
    });
    const pending = t.request(withAbort('http://10.0.0.1/'));
    await Promise.resolve();
    expect(listeners.size).toBe(1);
    abort.fire(new Error('per-try'));
    release();
    const err = (await pending.catch((e: unknown) => e)) as TransportError;
    expect([err.failure, (err.cause as Error).message]).toEqual(['aborted', 'per-try']);

    abort.aborted = false;
    const res = await t.request(withAbort('http://10.0.0.2/'));
    expect(listeners.size).toBe(1);
    const failed = new Promise<unknown>((r) => res.body.once('error', r));
    abort.fire(new Error('route'));
    expect(((await failed) as TransportError).failure).toBe('aborted');

    abort.aborted = false;
    const done = await t.request(withAbort('http://10.0.0.3/'));
    expect(await text(done.body)).toBe('done');
    await new Promise((r) => setImmediate(r));
    expect(listeners.size).toBe(0);

    abort.aborted = true;
    const before = (await t
      .request(withAbort('http://10.0.0.3/'))
      .catch((e: unknown) => e)) as TransportError;
    expect([before.failure, before.beforeRequestSent]).toEqual(['aborted', true]);
  });

  it('serves endpoints added with set and refuses deleted ones and everything after close', async () => {
    const t = createMemoryTransport();
    t.set('10.0.0.3:9080', () => ({ status: 200, body: 'added' }));
    expect(await text((await t.request(transportRequest('http://10.0.0.3:9080/'))).body)).toBe('added');
    t.delete('10.0.0.3:9080');
    const gone = await t.request(transportRequest('http://10.0.0.3:9080/')).catch((e: unknown) => e);
    expect((gone as TransportError).failure).toBe('connect-failure');
    t.set('10.0.0.4:9080', () => ({ status: 200 }));
    await t.close();
    const closed = await t.request(transportRequest('http://10.0.0.4:9080/')).catch((e: unknown) => e);
    expect((closed as TransportError).failure).toBe('connect-failure');
  });
});
