import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { FakeReply } from './support/fake-transport.js';
import { bookinfo, harness, planOf, scriptedRandom } from './support/setup.js';
import { reviewsVs, threeV1 } from './support/yaml.js';

type Behaviour = keyof typeof BEHAVIOURS;

const BEHAVIOURS = {
  500: { status: 500 },
  502: { status: 502 },
  503: { status: 503 },
  504: { status: 504 },
  404: { status: 404 },
  409: { status: 409 },
  'ratelimited-429': { status: 429, headers: { 'x-envoy-ratelimited': 'true' } },
  'plain-429': { status: 429 },
  'grpc-1': { status: 200, headers: { 'grpc-status': '1' } },
  'grpc-4': { status: 200, headers: { 'grpc-status': '4' } },
  'grpc-8': { status: 200, headers: { 'grpc-status': '8' } },
  'grpc-13': { status: 200, headers: { 'grpc-status': '13' } },
  'grpc-14': { status: 200, headers: { 'grpc-status': '14' } },
  'connect-failure': { fail: 'connect-failure' },
  'reset-after-send': { fail: 'reset', beforeRequestSent: false },
  'reset-before-send': { fail: 'reset', beforeRequestSent: true },
} satisfies Record<string, FakeReply>;

/** Fails the first try with `first`, answers 200 `ok` after. */
function failOnce(first: FakeReply) {
  let n = 0;
  return (): FakeReply => (n++ === 0 ? first : { status: 200, body: 'ok' });
}

async function retried(retries: string, behaviour: Behaviour): Promise<boolean> {
  const h = harness(planOf([...bookinfo(), reviewsVs(retries)], threeV1), failOnce(BEHAVIOURS[behaviour]), {
    random: scriptedRandom([0]),
  });
  const res = await h.call('http://reviews:9080/');
  return res.meshlet.attempts === 2 && res.status === 200 && (await res.text()) === 'ok';
}

const explicit = (retryOn: string): string => `    retries: { attempts: 2, retryOn: "${retryOn}" }\n`;

describe('outbound retries', () => {
  // spec/traffic.md §3 table, one row per retryOn value; [retryOn, retried, not retried].
  const table: [string, Behaviour[], Behaviour[]][] = [
    [
      '5xx',
      [500, 502, 503, 504, 'connect-failure', 'reset-after-send', 'reset-before-send'],
      [404, 409, 'grpc-14', 'plain-429'],
    ],
    ['gateway-error', [502, 503, 504, 'connect-failure', 'reset-after-send'], [500, 409]],
    ['reset', ['reset-after-send', 'reset-before-send', 'connect-failure'], [503, 500]],
    ['reset-before-request', ['reset-before-send', 'connect-failure'], ['reset-after-send', 503]],
    ['connect-failure', ['connect-failure'], ['reset-after-send', 503, 502]],
    ['retriable-4xx', [409], [404, 'plain-429', 500]],
    ['503', [503], [502, 500, 'connect-failure']],
    ['retriable-status-codes,502', [502], [503]],
    ['envoy-ratelimited', ['ratelimited-429'], ['plain-429', 503]],
    ['cancelled', ['grpc-1'], ['grpc-14', 503]],
    ['deadline-exceeded', ['grpc-4'], ['grpc-1']],
    ['internal', ['grpc-13'], ['grpc-14']],
    ['resource-exhausted', ['grpc-8'], ['grpc-13']],
    ['unavailable', ['grpc-14'], ['grpc-4', 503]],
  ];
  it.each(table)('retryOn %s retries %j and not %j', async (retryOn, yes, no) => {
    for (const b of yes) expect(await retried(explicit(retryOn), b), `${retryOn} / ${b}`).toBe(true);
    for (const b of no) expect(await retried(explicit(retryOn), b), `${retryOn} / ${b}`).toBe(false);
  });

  it("applies Istio's default policy when retries is absent: connect-failure and gRPC, never an upstream 503", async () => {
    for (const b of ['connect-failure', 'grpc-14', 'grpc-1'] as const)
      expect(await retried('', b), b).toBe(true);
    for (const b of [503, 500, 502, 'reset-after-send', 'grpc-13'] as const)
      expect(await retried('', b), String(b)).toBe(false);
  });

  it('does not retry at all when attempts is 0', async () => {
    const h = harness(
      planOf([...bookinfo(), reviewsVs('    retries: { attempts: 0 }\n')], threeV1),
      failOnce({ fail: 'connect-failure' }),
    );
    const res = await h.call('http://reviews:9080/');
    expect(res.status).toBe(503);
    expect(await res.text()).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure',
    );
    expect(res.meshlet.flags).toEqual(['UF']);
    expect(res.meshlet.attempts).toBe(1);
    expect(res.meshlet.upstream).toBeNull();
  });

  it('returns the last upstream response with URX when retries run out', async () => {
    const h = harness(
      planOf([...bookinfo(), reviewsVs(explicit('5xx'))], threeV1),
      (req) => ({
        status: 503,
        body: `busy ${req.address}`,
      }),
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect(res.status).toBe(503);
    expect(res.meshlet.flags).toEqual(['URX']);
    expect(res.meshlet.attempts).toBe(3);
    expect(await res.text()).toBe(`busy ${res.meshlet.upstream?.address}`);
    expect(h.transport.seen.map((s) => s.headers['x-envoy-attempt-count'])).toEqual(['1', '2', '3']);
    expect(h.transport.openBodies()).toBe(0);
  });

  it('answers 503 UF with URX after the default policy retried connect failures twice', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs()], threeV1), () => ({ fail: 'connect-failure' }), {
      random: scriptedRandom([0]),
    });
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.flags, res.meshlet.attempts]).toEqual([503, ['UF', 'URX'], 3]);
    expect(h.clusters.records.map((r) => r.outcome)).toEqual(
      Array(3).fill({ kind: 'local-failure', failure: 'connect-failure' }),
    );
  });

  it('answers 503 UC for a connection reset that is not retried', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs()], threeV1), () => ({ fail: 'reset' }));
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.flags]).toEqual([503, ['UC']]);
    expect(await res.text()).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
    );
  });

  it('never retries an upstream response carrying x-envoy-overloaded', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs(explicit('5xx'))], threeV1), () => ({
      status: 503,
      headers: { 'x-envoy-overloaded': 'true' },
    }));
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts, res.meshlet.flags]).toEqual([503, 1, []]);
  });

  it('answers pool overflow locally with 503 UO and x-envoy-overloaded, never retried nor recorded', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs(explicit('5xx'))], threeV1), () => ({ status: 200 }));
    h.clusters.maxRequests = 0;
    const res = await h.call('http://reviews:9080/');
    expect(res.status).toBe(503);
    expect(res.headers.get('x-envoy-overloaded')).toBe('true');
    expect(await res.text()).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: overflow',
    );
    expect([res.meshlet.flags, res.meshlet.attempts]).toEqual([['UO'], 0]);
    expect(h.transport.seen).toHaveLength(0);
    expect(h.clusters.records).toHaveLength(0);
  });

  it('stops with UO and the last response when the retry breaker (maxRetries) is full', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs(explicit('5xx'))], threeV1), () => ({
      status: 503,
      body: 'no',
    }));
    h.clusters.maxRetries = 0;
    const res = await h.call('http://reviews:9080/');
    expect([res.status, await res.text(), res.meshlet.flags, res.meshlet.attempts]).toEqual([
      503,
      'no',
      ['UO'],
      1,
    ]);
  });

  it('retries on another host (previous-hosts) and only when retryIgnorePreviousHosts allows', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs(explicit('5xx'))], threeV1), () => ({ status: 503 }), {
      random: scriptedRandom([0]),
    });
    await h.call('http://reviews:9080/');
    expect(new Set(h.transport.seen.map((s) => s.address)).size).toBe(3);
    expect(h.clusters.picks.map((p) => p.exclude.length)).toEqual([0, 1, 2]);

    const keep = harness(
      planOf(
        [
          ...bookinfo(),
          reviewsVs('    retries: { attempts: 2, retryOn: "5xx", retryIgnorePreviousHosts: false }\n'),
        ],
        threeV1,
      ),
      () => ({ status: 503 }),
      { random: scriptedRandom([0]) },
    );
    await keep.call('http://reviews:9080/');
    expect(keep.clusters.picks.map((p) => p.exclude.length)).toEqual([0, 0, 0]);
  });

  it('waits a full-jitter backoff on the injected clock: [0,25) then [0,50)', async () => {
    const at: number[] = [];
    const h = harness(
      planOf([...bookinfo(), reviewsVs(explicit('5xx'))], threeV1),
      () => {
        at.push(h.clock.now());
        return { status: 503 };
      },
      { random: scriptedRandom([0.999]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect(res.meshlet.attempts).toBe(3);
    expect(at).toEqual([0, 24, 24 + 49]);
  });

  it('sends a stream body once and says retries were off for it', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs()], threeV1), failOnce({ fail: 'connect-failure' }));
    const res = await h.call('http://reviews:9080/', { method: 'POST', body: Readable.from(['a', 'b']) });
    expect([res.status, res.meshlet.attempts, res.meshlet.flags]).toEqual([503, 1, ['UF']]);
    expect(res.meshlet.retriesDisabled).toBe('body-not-replayable');
  });

  it('replays a string body on every try', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs()], threeV1), failOnce({ fail: 'connect-failure' }), {
      random: scriptedRandom([0]),
    });
    const res = await h.call('http://reviews:9080/', { method: 'POST', body: 'payload' });
    expect([res.status, res.meshlet.attempts, res.meshlet.retriesDisabled]).toEqual([200, 2, null]);
    expect(h.transport.seen.map((s) => [s.method, s.body])).toEqual([
      ['POST', 'payload'],
      ['POST', 'payload'],
    ]);
  });
});
