import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isMeshletError } from '../../../src/errors/meshlet-error.js';
import { createMemoryTransport } from '../../../src/outbound/transports/memory-transport.js';
import { bookinfo, echoAddress, harness, planOf } from './support/setup.js';
import { reviewsVs, threeV1 } from './support/yaml.js';
import type { Harness } from './support/setup.js';

/**
 * Envoy's route timeout runs until the upstream response is complete, body included
 * (route_components.proto RouteAction.timeout; router.cc: the response timer is only
 * disabled by cleanup() from onUpstreamComplete). When it fires after the headers went
 * downstream, onResponseTimeout resets the upstream stream and sendLocalReply can only
 * reset the downstream one: the caller sees its body fail.
 */

const CODE = 'MESHLET_ERR_OUTBOUND_ROUTE_TIMEOUT';

/** reviews pods answering 200 and one body chunk after `headersAtMs`, then stalling (or ending at `endAtMs`). */
function streaming(h: () => Harness, headersAtMs: number, endAtMs: number | null = null) {
  const bodies: PassThrough[] = [];
  const transport = createMemoryTransport();
  for (const i of [1, 2, 3]) {
    transport.set(`10.0.1.${i}:9080`, async () => {
      await h().clock.sleep(headersAtMs);
      const body = new PassThrough();
      body.write('part;');
      if (endAtMs !== null)
        void h()
          .clock.sleep(endAtMs - headersAtMs)
          .then(() => body.end('rest'));
      bodies.push(body);
      return { status: 200, headers: { 'content-type': 'text/plain' }, body };
    });
  }
  return { transport, bodies };
}

/** Reads `p` without awaiting it: `settled()` is 'pending' until it settles. */
function watch(p: Promise<unknown>): () => unknown {
  let value: unknown = 'pending';
  p.then(
    (v) => (value = { ended: v }),
    (e: unknown) => (value = e),
  );
  return () => value;
}

describe('route timeout over the response body', () => {
  it("errors a body still streaming at the route timeout; the status stays the upstream's", async () => {
    const up = streaming(() => h, 100);
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    timeout: 500ms\n')], threeV1),
      echoAddress,
      {
        transport: up.transport,
      },
    );
    // The application's own x-envoy-upstream-rq-timeout-ms is stripped: it shortens nothing.
    const res = await h.call('http://reviews:9080/', { headers: { 'x-envoy-upstream-rq-timeout-ms': '50' } });
    expect([res.status, res.meshlet.flags, h.clock.now()]).toEqual([200, [], 100]);
    const text = watch(res.text());
    await h.clock.advance(399);
    expect([text(), up.bodies[0]?.destroyed]).toEqual(['pending', false]);
    await h.clock.advance(1);
    const err = text();
    expect(isMeshletError(err) && [err.code, err.details]).toEqual([CODE, { timeoutMs: 500 }]);
    // The upstream stream is reset, and outlier detection saw only the 200: Envoy records a
    // timeout for it only while awaiting headers (router.cc onResponseTimeout).
    expect(up.bodies[0]?.destroyed).toBe(true);
    expect(h.clusters.records.map((r) => r.outcome)).toEqual([{ kind: 'response', status: 200 }]);
    expect(h.clock.pending()).toBe(0);
  });

  it('lets the route timeout, not the per-try timeout, bound the body once the headers arrived', async () => {
    // upstream_request.cc onPerTryTimeout: ignored once the downstream response started.
    const up = streaming(() => h, 50);
    const h: Harness = harness(
      planOf(
        [
          ...bookinfo(),
          reviewsVs('    timeout: 500ms\n    retries: { attempts: 2, perTryTimeout: 200ms, retryOn: 5xx }\n'),
        ],
        threeV1,
      ),
      echoAddress,
      { transport: up.transport },
    );
    const res = await h.call('http://reviews:9080/');
    const text = watch(res.text());
    await h.clock.advance(400);
    expect([text(), up.bodies.length]).toEqual(['pending', 1]);
    await h.clock.advance(50);
    const err = text();
    expect(isMeshletError(err) && err.code).toBe(CODE);
    expect([res.meshlet.attempts, h.clock.now()]).toEqual([1, 500]);
  });

  it('clears the route timer when the body ends first, with no late error', async () => {
    const up = streaming(() => h, 100, 300);
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    timeout: 500ms\n')], threeV1),
      echoAddress,
      {
        transport: up.transport,
      },
    );
    const res = await h.call('http://reviews:9080/');
    // The body's end (the handler's sleep) and the route timer are pending.
    expect(h.clock.pending()).toBe(2);
    const errors: unknown[] = [];
    up.bodies[0]?.on('error', (e) => errors.push(e));
    const text = watch(res.text());
    await h.clock.advance(200);
    expect(text()).toEqual({ ended: 'part;rest' });
    expect(h.clock.pending()).toBe(0);
    await h.clock.advance(1000);
    expect(errors).toEqual([]);
  });

  it('resets a body the caller never reads at the route timeout, freeing its connection', async () => {
    const up = streaming(() => h, 100);
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    timeout: 500ms\n')], threeV1),
      echoAddress,
      {
        transport: up.transport,
      },
    );
    const res = await h.call('http://reviews:9080/');
    const cluster = 'outbound|9080|v1|reviews.default.svc.cluster.local';
    expect(h.clusters.active.get(cluster)).toBe(1);
    await h.clock.advance(400);
    expect(up.bodies[0]?.destroyed).toBe(true);
    expect(h.clusters.active.get(cluster)).toBe(0);
    expect(isMeshletError(res.body.errored) && res.body.errored.code).toBe(CODE);
    expect(h.clock.pending()).toBe(0);
  });
});
