import { describe, expect, it } from 'vitest';
import type { Admission } from '../../../src/outbound/upstream/types.js';
import { endpoints, harness, httpbinCircuitBreaker, reviewsCluster } from './support.js';

function ticketOf(a: Admission) {
  if (!a.ok) throw new Error(`overflow: ${a.reason}`);
  return a.ticket;
}

/** Resolves to 'pending' if the promise has not settled after the microtask queue drains. */
async function state<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('connection pool (Istio circuit-breaking task: 1 connection, 1 pending)', () => {
  it('queues the second concurrent request and overflows the third', async () => {
    const { manager, events } = harness();
    const cluster = httpbinCircuitBreaker();
    const c = manager.get(cluster, endpoints(1));
    const first = await c.admit(null);
    expect(first.ok).toBe(true);
    const second = c.admit(null);
    expect(await state(second)).toBe('pending');
    expect(await c.admit(null)).toEqual({ ok: false, reason: 'pending-overflow' });
    expect(manager.stats(cluster.key)).toMatchObject({ pendingOverflow: 1, maxRequestsOverflow: 0 });
    expect(events).toEqual([{ type: 'overflow', cluster: cluster.key, reason: 'pending-overflow' }]);
    ticketOf(first).release();
    expect((await second).ok).toBe(true);
  });

  it('lets the queued request proceed when the first releases, in FIFO order', async () => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster(
        '{ connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 2 } } }',
      ),
      endpoints(1),
    );
    const first = ticketOf(await c.admit(null));
    const order: string[] = [];
    const second = c.admit(null).then((a) => (order.push('second'), a));
    const third = c.admit(null).then((a) => (order.push('third'), a));
    first.release();
    first.release(); // releasing twice frees one slot only
    const t2 = ticketOf(await second);
    expect(await state(third)).toBe('pending');
    t2.release();
    expect((await third).ok).toBe(true);
    expect(order).toEqual(['second', 'third']);
  });

  it('removes an aborted queued request without counting overflow', async () => {
    const { manager, events } = harness();
    const cluster = httpbinCircuitBreaker();
    const c = manager.get(cluster, endpoints(1));
    const first = ticketOf(await c.admit(null));
    const ac = new AbortController();
    const queued = c.admit(ac.signal);
    ac.abort(new Error('per-try timeout'));
    await expect(queued).rejects.toThrow('per-try timeout');
    // The pending slot is free again: the next request queues instead of overflowing.
    const next = c.admit(null);
    expect(await state(next)).toBe('pending');
    first.release();
    expect((await next).ok).toBe(true);
    expect(manager.stats(cluster.key)!.pendingOverflow).toBe(0);
    expect(events).toEqual([]);
  });

  it('rejects at once when the signal has already aborted', async () => {
    const { manager } = harness();
    const c = manager.get(httpbinCircuitBreaker(), endpoints(1));
    await expect(c.admit(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect((await c.admit(null)).ok).toBe(true);
  });

  it('caps active requests with http2MaxRequests (max-requests overflow)', async () => {
    const { manager } = harness();
    const cluster = reviewsCluster('{ connectionPool: { http: { http2MaxRequests: 2 } } }');
    const c = manager.get(cluster, endpoints(2));
    const a = ticketOf(await c.admit(null));
    ticketOf(await c.admit(null));
    expect(await c.admit(null)).toEqual({ ok: false, reason: 'max-requests' });
    a.release();
    expect((await c.admit(null)).ok).toBe(true);
    expect(manager.stats(cluster.key)).toMatchObject({ maxRequestsOverflow: 1, pendingOverflow: 0 });
  });

  it('admits HTTP/2 streams past maxConnections, capped only by http2MaxRequests with HTTP/1 requests', async () => {
    // A gRPC call is a stream on a shared connection: Envoy's HTTP/2 pool checks max_requests
    // for a new stream and does not hold a connection per request (conn_pool_base.cc).
    const { manager, events } = harness();
    const cluster = reviewsCluster(
      '{ connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 3 } } }',
    );
    const c = manager.get(cluster, endpoints(1));
    const s1 = ticketOf(c.admitStream!());
    const s2 = ticketOf(c.admitStream!());
    const h1 = ticketOf(await c.admit(null));
    // Three active (two streams, one HTTP/1 request) is the cap, for both kinds.
    expect(c.admitStream!()).toEqual({ ok: false, reason: 'max-requests' });
    s1.release();
    s1.release();
    const s3 = ticketOf(c.admitStream!());
    expect(c.admitStream!()).toEqual({ ok: false, reason: 'max-requests' });
    // An HTTP/1 request still needs the one connection, which h1 holds: it queues.
    s2.release();
    const queued = c.admit(null);
    expect(await state(queued)).toBe('pending');
    h1.release();
    ticketOf(await queued).release();
    s3.release();
    expect(manager.stats(cluster.key)).toMatchObject({ maxRequestsOverflow: 2, pendingOverflow: 0 });
    expect(events.filter((e) => e.type === 'overflow')).toHaveLength(2);
  });

  it('treats unset limits as unlimited (Istio writes 2^32−1)', async () => {
    const { manager } = harness();
    const c = manager.get(reviewsCluster(null), endpoints(1));
    const all = await Promise.all(Array.from({ length: 5000 }, () => c.admit(null)));
    expect(all.every((a) => a.ok)).toBe(true);
  });

  it('applies new limits from a reloaded plan to waiting requests', async () => {
    const { manager } = harness();
    const c = manager.get(httpbinCircuitBreaker(), endpoints(1));
    ticketOf(await c.admit(null));
    const queued = c.admit(null);
    manager.get(reviewsCluster(null), endpoints(1)); // another key: no effect
    expect(await state(queued)).toBe('pending');
    const widened = { ...httpbinCircuitBreaker() };
    widened.policy = {
      ...widened.policy,
      connectionPool: {
        ...widened.policy.connectionPool,
        tcp: { ...widened.policy.connectionPool.tcp, maxConnections: 2 },
      },
    };
    expect(manager.get(widened, endpoints(1))).toBe(c);
    expect((await queued).ok).toBe(true);
  });
});

describe('retry admission', () => {
  it('allows at most maxRetries concurrent retries', () => {
    const { manager, events } = harness();
    const cluster = reviewsCluster('{ connectionPool: { http: { maxRetries: 2 } } }');
    const c = manager.get(cluster, endpoints(1));
    const r1 = c.admitRetry();
    const r2 = c.admitRetry();
    expect([r1.ok, r2.ok, c.admitRetry().ok]).toEqual([true, true, false]);
    r1.release();
    r1.release();
    expect(c.admitRetry().ok).toBe(true);
    expect(c.admitRetry().ok).toBe(false);
    expect(manager.stats(cluster.key)!.retryOverflow).toBe(2);
    expect(events.filter((e) => e.type === 'overflow' && e.reason === 'retry')).toHaveLength(2);
  });

  it('lets retryBudget replace maxRetries: percent of active requests, at least minRetryConcurrency', async () => {
    const { manager } = harness();
    const compiled = reviewsCluster(
      '{ connectionPool: { http: { maxRetries: 1 } }, retryBudget: { percent: 25, minRetryConcurrency: 2 } }',
    );
    // Set percent on the compiled policy: compile/traffic-policy.ts reads `percent.value`
    // while the schema (DoubleValue) takes a plain number (reported to the lead).
    const cluster = {
      ...compiled,
      policy: { ...compiled.policy, retryBudget: { percent: 25, minRetryConcurrency: 2 } },
    };
    const c = manager.get(cluster, endpoints(1));
    // 0 active: the floor of 2 applies (maxRetries 1 is ignored).
    const floor = [c.admitRetry(), c.admitRetry(), c.admitRetry()];
    expect(floor.map((r) => r.ok)).toEqual([true, true, false]);
    floor.forEach((r) => r.release());
    // 20 active: 25% = 5 concurrent retries.
    for (let i = 0; i < 20; i++) await c.admit(null);
    const budget = Array.from({ length: 6 }, () => c.admitRetry().ok);
    expect(budget).toEqual([true, true, true, true, true, false]);
  });
});
