import { describe, expect, it } from 'vitest';
import { isMeshletError } from '../../../src/errors/meshlet-error.js';
import { createOutboundClient } from '../../../src/outbound/client.js';
import {
  createMemoryTransport,
  type MemoryReply,
} from '../../../src/outbound/transports/memory-transport.js';
import { createClusterManager } from '../../../src/outbound/upstream/cluster-manager.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { bookinfo, drive, flush, harness, planOf, sample, scriptedRandom } from './support/setup.js';
import type { FakeHandler } from './support/fake-transport.js';
import { reviewsVs, threeV1 } from './support/yaml.js';
import type { Harness } from './support/setup.js';

/** An upstream that answers after `ms` of virtual time (aborted with the try). */
const slow =
  (h: () => Harness, ms: number, status = 200): FakeHandler =>
  async (req, signal) => {
    await h().clock.sleep(ms, signal ?? undefined);
    return { status, body: req.address };
  };

describe('outbound timeouts', () => {
  it('answers 504 UT "upstream request timeout" at the route timeout and aborts the try (Istio request-timeouts task)', async () => {
    const plan = planOf([...bookinfo(), sample('tasks/request-timeouts/03-reviews-v2-timeout-0.5s.yaml')]);
    const h: Harness = harness(
      plan,
      slow(() => h, 2000),
    );
    const started = h.clock.now();
    const res = await h.call('http://reviews:9080/reviews/0');
    expect(h.clock.now() - started).toBe(500);
    expect([res.status, await res.text(), res.meshlet.flags, res.meshlet.attempts]).toEqual([
      504,
      'upstream request timeout',
      ['UT'],
      1,
    ]);
    expect(h.transport.seen[0]?.signal?.aborted).toBe(true);
    expect(h.transport.seen[0]?.headers['x-envoy-expected-rq-timeout-ms']).toBe('500');
    expect(h.clusters.records.map((r) => r.outcome)).toEqual([{ kind: 'local-failure', failure: 'timeout' }]);
    expect(h.clock.pending()).toBe(0);
  });

  it('bounds every try and backoff with the route timeout, never retrying after it', async () => {
    const at: number[] = [];
    const h: Harness = harness(
      planOf(
        [
          ...bookinfo(),
          reviewsVs('    timeout: 100ms\n    retries: { attempts: 5, perTryTimeout: 30ms, retryOn: 5xx }\n'),
        ],
        threeV1,
      ),
      async (req, signal) => {
        at.push(h.clock.now());
        return slow(() => h, 1000)(req, signal);
      },
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect(at).toEqual([0, 30, 60, 90]);
    expect([res.status, res.meshlet.flags, res.meshlet.attempts]).toEqual([504, ['UT'], 4]);
    expect(h.clock.now()).toBe(100);
  });

  it('retries a per-try timeout under 5xx on another host, timed on the manual clock', async () => {
    let n = 0;
    const h: Harness = harness(
      planOf(
        [...bookinfo(), reviewsVs('    retries: { attempts: 2, perTryTimeout: 40ms, retryOn: 5xx }\n')],
        threeV1,
      ),
      (req, signal) => slow(() => h, n++ === 0 ? 1000 : 5)(req, signal),
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts, res.meshlet.flags]).toEqual([200, 2, []]);
    expect(h.clock.now()).toBe(45);
    expect(Number(res.headers.get('x-envoy-upstream-service-time'))).toBe(45);
    expect(h.transport.seen[0]?.headers['x-envoy-expected-rq-timeout-ms']).toBe('40');
    expect(h.clusters.records.map((r) => r.outcome)).toEqual([
      { kind: 'local-failure', failure: 'timeout' },
      { kind: 'response', status: 200 },
    ]);
    expect(h.transport.seen[0]?.address).not.toBe(h.transport.seen[1]?.address);
  });

  it("does not retry a per-try timeout under Istio's default retryOn", async () => {
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    retries: { attempts: 2, perTryTimeout: 40ms }\n')], threeV1),
      slow(() => h, 1000),
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts, res.meshlet.flags, h.clock.now()]).toEqual([
      504,
      1,
      ['UT'],
      40,
    ]);
  });

  it('flags UT and URX when every try timed out', async () => {
    const h: Harness = harness(
      planOf(
        [...bookinfo(), reviewsVs('    retries: { attempts: 2, perTryTimeout: 10ms, retryOn: reset }\n')],
        threeV1,
      ),
      slow(() => h, 1000),
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts, res.meshlet.flags]).toEqual([504, 3, ['UT', 'URX']]);
  });

  it('does not count a fault delay against the route timeout', async () => {
    const yaml = reviewsVs(
      '    timeout: 500ms\n    fault: { delay: { fixedDelay: 2s, percentage: { value: 100 } } }\n',
    );
    const h: Harness = harness(
      planOf([...bookinfo(), yaml], threeV1),
      slow(() => h, 100),
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.flags, h.clock.now()]).toEqual([200, ['DI'], 2100]);
    expect(res.headers.get('x-envoy-upstream-service-time')).toBe('100');
  });

  // envoy conn_manager_utility.cc cleanInternalHeaders: the sidecar's outbound HCM has
  // use_remote_address=false and no internal addresses, so the app's request is external and
  // its x-envoy-upstream-rq-timeout-ms is removed before the router reads it (istio#14923).
  it('ignores and strips the caller x-envoy-upstream-rq-timeout-ms header', async () => {
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs()], threeV1),
      slow(() => h, 1000),
    );
    const res = await h.call('http://reviews:9080/', { headers: { 'x-envoy-upstream-rq-timeout-ms': '50' } });
    expect([res.status, res.meshlet.flags, h.clock.now()]).toEqual([200, [], 1000]);
    expect(h.transport.seen[0]?.headers['x-envoy-upstream-rq-timeout-ms']).toBeUndefined();

    const longer: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    timeout: 500ms\n')], threeV1),
      slow(() => longer, 1000),
    );
    const cut = await longer.call('http://reviews:9080/', {
      headers: { 'X-Envoy-Upstream-Rq-Timeout-Ms': '2000' },
    });
    expect([cut.status, cut.meshlet.flags, longer.clock.now()]).toEqual([504, ['UT'], 500]);
    expect(longer.transport.seen[0]?.headers['x-envoy-upstream-rq-timeout-ms']).toBeUndefined();
    expect(longer.transport.seen[0]?.headers['X-Envoy-Upstream-Rq-Timeout-Ms']).toBeUndefined();
  });

  it('rejects with MESHLET_ERR_OUTBOUND_TIMEOUT at the caller timeout and cancels the try', async () => {
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs()], threeV1),
      slow(() => h, 1000),
    );
    const err: unknown = await h.call('http://reviews:9080/', { timeout: 100 }).catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_OUTBOUND_TIMEOUT');
    expect(h.clock.now()).toBe(100);
    expect(h.transport.seen[0]?.signal?.aborted).toBe(true);
    expect(h.clusters.records).toHaveLength(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('applies the caller timeout during a fault delay', async () => {
    const yaml = reviewsVs('    fault: { delay: { fixedDelay: 7s, percentage: { value: 100 } } }\n');
    const h: Harness = harness(planOf([...bookinfo(), yaml], threeV1), () => ({ status: 200 }));
    const err: unknown = await h.call('http://reviews:9080/', { timeout: 3000 }).catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_OUTBOUND_TIMEOUT');
    expect(h.clock.now()).toBe(3000);
    expect(h.transport.seen).toHaveLength(0);
    expect(h.clock.pending()).toBe(0);
  });

  it("rejects with the signal's reason when the caller aborts, like fetch", async () => {
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs()], threeV1),
      slow(() => h, 1000),
    );
    const ctl = new AbortController();
    const p = h.client.fetch('http://reviews:9080/', { signal: ctl.signal });
    const settled = p.catch((e: unknown) => e);
    await flush();
    ctl.abort();
    const err = (await settled) as Error;
    expect(err.name).toBe('AbortError');
    expect(h.transport.seen[0]?.signal?.aborted).toBe(true);
    const already = await h.client
      .fetch('http://reviews:9080/', { signal: AbortSignal.abort(new Error('gone')) })
      .catch((e: unknown) => e);
    expect((already as Error).message).toBe('gone');
    expect(h.clock.pending()).toBe(0);
  });

  it('gives the transport no AbortSignal and leaves no timer when the call has no timeout', async () => {
    const h: Harness = harness(planOf([...bookinfo(), reviewsVs()], threeV1), () => ({
      status: 200,
      body: 'x',
    }));
    const res = await h.client.fetch('http://reviews:9080/');
    expect(await res.text()).toBe('x');
    expect(h.transport.seen[0]?.signal).toBeNull();
    expect(h.clock.pending()).toBe(0);
  });

  // DESIGN.md: no timer or AbortSignal a request does not need. A transport that listens
  // through `TransportRequest.abort` (the in-memory one) needs none: on Node 20 making one
  // costs more than the rest of a timed try (bench/telemetry.js).
  it('makes no AbortSignal for timed tries a transport aborts through `abort`', async () => {
    const Real = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Real {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const clock = createManualClock();
      let n = 0;
      const handler = (): Promise<MemoryReply> | MemoryReply =>
        n++ === 0
          ? clock.sleep(1000).then(() => ({ status: 200, body: 'late' }))
          : { status: 200, body: 'in time' };
      const plan = planOf(
        [
          ...bookinfo(),
          reviewsVs('    timeout: 100ms\n    retries: { attempts: 2, perTryTimeout: 30ms, retryOn: 5xx }\n'),
        ],
        threeV1,
      );
      // The real cluster manager, as an application runs it (its pool admits at once).
      const client = createOutboundClient({
        getPlan: () => plan,
        clusters: createClusterManager({ clock, random: seededRandom(1) }),
        transport: createMemoryTransport(
          Object.fromEntries(threeV1.reviews.map((e) => [`${e.address}:9080`, handler])),
        ),
        clock,
        random: seededRandom(2),
      });
      const res = await drive(clock, client.fetch('http://reviews:9080/'));
      // The first try timed out at 30 ms (then Envoy's jittered 25 ms backoff); the second answered.
      expect([res.status, await res.text(), res.meshlet.attempts, n]).toEqual([200, 'in time', 2, 2]);
      expect(made).toBe(0);
    } finally {
      globalThis.AbortController = Real;
    }
  });

  it('keeps the caller timeout on the body stream and clears it when the body is read', async () => {
    const h: Harness = harness(planOf([...bookinfo(), reviewsVs()], threeV1), () => ({
      status: 200,
      body: 'late',
    }));
    const res = await drive(h.clock, h.client.fetch('http://reviews:9080/', { timeout: 1000 }));
    expect(h.clock.pending()).toBe(1);
    expect(await res.text()).toBe('late');
    await flush();
    expect(h.clock.pending()).toBe(0);
  });
});
