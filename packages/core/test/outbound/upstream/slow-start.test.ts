import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { Cluster, Endpoint } from '../../../src/compile/plan-types.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { UpstreamCluster } from '../../../src/outbound/upstream/types.js';
import type { RuntimeCluster } from '../../../src/outbound/upstream/upstream-cluster.js';
import { endpoints, harness, NO_CONTEXT, reviewsCluster, tally, type Harness } from './support.js';
import { HELLOWORLD_CLUSTER, helloworldService } from '../../helpers/helloworld.js';

/**
 * DestinationRule `warmup` / `warmupDurationSecs` (istio cluster_traffic_policy.go
 * `applyRoundRobinLoadBalancer`, `applyLeastRequestLoadBalancer`, `setWarmup`) as Envoy's
 * slow start (envoy load_balancer_impl.cc `applySlowStartFactor`): a host's weight is scaled
 * by `max(minWeight, timeFactor^(1/aggression))`, `timeFactor = max(1 ms, age) / window`,
 * while it is younger than the window.
 */

const WINDOW_S = 100;
const PICKS = 2000;
const NEW = '10.0.0.3:9080';

const rr = (warmup: string) => `{ loadBalancer: { simple: ROUND_ROBIN, ${warmup} } }`;
const WARMUP = `warmup: { duration: ${WINDOW_S}s }`;

/** The share of `id` over `PICKS` picks made at the clock's current time. */
function share(c: UpstreamCluster, id: string): number {
  const counts = tally(Array.from({ length: PICKS }, () => c.pick(NO_CONTEXT)?.id));
  return (counts[id] ?? 0) / PICKS;
}

/** The share a host of weight `w·f` gets next to hosts whose weights sum to `rest`. */
const expected = (wf: number, rest: number): number => wf / (wf + rest);

/** Two hosts from cluster creation, out of their own window; then 10.0.0.3 joins. */
async function joinLate(
  policy: string,
  weights: readonly number[] = [],
  seed = 3,
): Promise<{ h: Harness; c: UpstreamCluster; all: Endpoint[] }> {
  const h = harness(seed);
  const cluster = reviewsCluster(policy);
  const all = endpoints(3, weights);
  const c = h.manager.get(cluster, all.slice(0, 2));
  await h.clock.advance(2 * WINDOW_S * 1000);
  h.manager.get(cluster, all);
  return { h, c, all };
}

/** Shares of the late host at the given seconds after it joined. */
async function curve(h: Harness, c: UpstreamCluster, seconds: readonly number[]): Promise<number[]> {
  const out: number[] = [];
  let at = 0;
  for (const s of seconds) {
    await h.clock.advance((s - at) * 1000);
    at = s;
    out.push(share(c, NEW));
  }
  return out;
}

function expectClose(actual: readonly number[], want: readonly number[], tolerance = 0.015): void {
  expect(actual).toHaveLength(want.length);
  actual.forEach((a, i) => {
    if (Math.abs(a - want[i]!) > tolerance)
      throw new Error(
        `point ${i}: share ${a.toFixed(4)}, want ${want[i]!.toFixed(4)} (${actual.join(', ')})`,
      );
  });
}

describe('slow start (DestinationRule warmup)', () => {
  it('compiles both spellings into Envoy slow_start_config, with Istio’s defaults', () => {
    const lb = (p: string) => reviewsCluster(p).policy.loadBalancer.warmup;
    expect(lb(rr('warmupDurationSecs: 30s'))).toEqual({
      windowMs: 30_000,
      aggression: 1,
      minWeightPercent: 10,
    });
    expect(lb(rr('warmup: { duration: 45s, minimumPercent: 25, aggression: 1.5 }'))).toEqual({
      windowMs: 45_000,
      aggression: 1.5,
      minWeightPercent: 25,
    });
    // `warmup` wins over the deprecated field (setWarmup is tried first).
    expect(lb(rr('warmupDurationSecs: 30s, warmup: { duration: 45s }'))?.windowMs).toBe(45_000);
    // LEAST_REQUEST (the default), LEAST_CONN and ROUND_ROBIN get it ...
    expect(lb(`{ loadBalancer: { ${WARMUP} } }`)?.windowMs).toBe(100_000);
    expect(lb(`{ loadBalancer: { simple: LEAST_CONN, ${WARMUP} } }`)?.windowMs).toBe(100_000);
    // ... RANDOM, PASSTHROUGH and consistent hashing do not.
    expect(lb(`{ loadBalancer: { simple: RANDOM, ${WARMUP} } }`)).toBeNull();
    expect(lb(`{ loadBalancer: { simple: PASSTHROUGH, ${WARMUP} } }`)).toBeNull();
    expect(lb(`{ loadBalancer: { consistentHash: { httpHeaderName: x-user }, ${WARMUP} } }`)).toBeNull();
    expect(lb(`{ loadBalancer: { simple: ROUND_ROBIN } }`)).toBeNull();
  });

  it('gives a host added later a small, linearly growing ROUND_ROBIN share, then its full share', async () => {
    const { h, c } = await joinLate(rr(WARMUP));
    const seconds = [0, 25, 50, 75, 99];
    const want = seconds.map((s) => expected(Math.max(0.1, s / WINDOW_S), 2));
    expectClose(await curve(h, c, seconds), want);
    // Out of the window: the full third.
    expectClose(await curve(h, c, [100]), [1 / 3], 0.002);
  });

  it('applies the deprecated warmupDurationSecs with Envoy’s defaults (aggression 1, 10 %)', async () => {
    const { h, c } = await joinLate(rr(`warmupDurationSecs: ${WINDOW_S}s`));
    const seconds = [0, 5, 40];
    expectClose(
      await curve(h, c, seconds),
      seconds.map((s) => expected(Math.max(0.1, s / WINDOW_S), 2)),
    );
  });

  it('ramps faster with a higher aggression: factor^(1/aggression)', async () => {
    const { h, c } = await joinLate(rr(`warmup: { duration: ${WINDOW_S}s, aggression: 2 }`));
    const seconds = [4, 25, 64];
    // sqrt(0.04) = 0.2, sqrt(0.25) = 0.5, sqrt(0.64) = 0.8
    expectClose(await curve(h, c, seconds), [expected(0.2, 2), expected(0.5, 2), expected(0.8, 2)]);
  });

  it('never goes below minimumPercent of the host weight', async () => {
    const { h, c } = await joinLate(rr(`warmup: { duration: ${WINDOW_S}s, minimumPercent: 50 }`));
    expectClose(await curve(h, c, [0, 30, 75]), [expected(0.5, 2), expected(0.5, 2), expected(0.75, 2)]);
  });

  it('scales the endpoint weight, not replaces it', async () => {
    const { h, c } = await joinLate(rr(WARMUP), [1, 1, 4]);
    // weight 4 at factor 0.25 = 1, next to 1 + 1.
    expectClose(await curve(h, c, [25]), [expected(1, 2)]);
  });

  it('does the same under LEAST_REQUEST (Istio’s default), as weight / (active + 1) × factor', async () => {
    const { h, c } = await joinLate(`{ loadBalancer: { ${WARMUP} } }`);
    const seconds = [0, 50];
    expectClose(
      await curve(h, c, seconds),
      seconds.map((s) => expected(Math.max(0.1, s / WINDOW_S), 2)),
    );
  });

  it('folds active requests into a warming LEAST_REQUEST host’s weight', async () => {
    const { h, c } = await joinLate(`{ loadBalancer: { ${WARMUP} } }`);
    await h.clock.advance(50_000);
    // The old hosts each have one request in flight: 1 / 2 each; the new host 0.5 / 1.
    for (const host of c.hosts()) if (host.id !== NEW) c.begin(host);
    expectClose([share(c, NEW)], [expected(0.5, 1)]);
  });

  it('treats hosts present at cluster creation as warming from that moment (Envoy: LB built then)', async () => {
    const h = harness(5);
    const cluster = reviewsCluster(rr(WARMUP));
    const all = endpoints(3);
    const c = h.manager.get(cluster, all.slice(0, 2));
    // All present from the start warm together: an even split.
    expectClose([share(c, '10.0.0.1:9080')], [0.5], 0.002);
    await h.clock.advance(50_000);
    h.manager.get(cluster, all);
    // The first two are at factor 0.5, the newcomer at the 10 % floor: 0.1 / 1.1, not 0.1 / 2.1.
    expectClose([share(c, NEW)], [expected(0.1, 1)]);
  });

  it('restarts slow start for a host that is removed and added again', async () => {
    const { h, c, all } = await joinLate(rr(WARMUP));
    const cluster = reviewsCluster(rr(WARMUP));
    await h.clock.advance(150_000);
    expectClose([share(c, NEW)], [1 / 3], 0.002);
    h.manager.get(cluster, all.slice(0, 2));
    h.manager.get(cluster, all);
    await h.clock.advance(20_000);
    expectClose([share(c, NEW)], [expected(0.2, 2)]);
  });

  it('does not slow a host that returns from an outlier ejection (Envoy keeps its first pass time)', async () => {
    const policy =
      '{ loadBalancer: { simple: ROUND_ROBIN, warmup: { duration: 100s } }, outlierDetection: ' +
      '{ consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 10s, maxEjectionPercent: 100 } }';
    const { h, c } = await joinLate(policy);
    await h.clock.advance(150_000);
    const host = c.hosts().find((x) => x.id === NEW)!;
    c.record(host, { kind: 'response', status: 500 });
    expect(host.ejected).toBe(true);
    await h.clock.advance(12_000);
    expect(host.ejected).toBe(false);
    expectClose([share(c, NEW)], [1 / 3], 0.002);
  });

  it('leaves RANDOM alone (Istio writes no slow_start_config for it)', async () => {
    const { h, c } = await joinLate(`{ loadBalancer: { simple: RANDOM, ${WARMUP} } }`);
    expectClose(await curve(h, c, [0]), [1 / 3], 0.04);
  });

  it('warms a new host inside its locality priority too (one slow start per cluster)', async () => {
    const c0 = localityCluster();
    const late = c0.endpoints.find((e) => e.address === '10.1.1.3')!;
    const h = harness(8);
    const c = h.manager.get(
      c0,
      c0.endpoints.filter((e) => e !== late),
    );
    expect((c as RuntimeCluster).prioritySet).not.toBeNull();
    await h.clock.advance(200_000);
    h.manager.get(c0, c0.endpoints);
    await h.clock.advance(50_000);
    // zone1 (priority 0) takes all traffic: two old hosts and the newcomer at factor 0.5.
    expectClose([share(c, '10.1.1.3:5000')], [expected(0.5, 2)]);
  });
});

/** The caller in region1/zone1; helloworld with three pods there and one in zone2. */
function localityCluster(): Cluster {
  const docs = [
    helloworldService(),
    `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN, warmup: { duration: 100s } }
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m }
`,
  ];
  const snap = loadConfigText(docs.map((text, i) => ({ text, file: `doc-${i}.yaml` })));
  const pod = (address: string, locality: string) => ({
    address,
    port: 5000,
    labels: { app: 'helloworld' },
    locality,
  });
  const plan = compilePlan(
    snap,
    {
      name: 'sleep',
      namespace: 'sample',
      serviceAccount: 'sleep',
      labels: { app: 'sleep' },
      locality: 'region1/zone1',
    },
    {
      endpoints: {
        helloworld: [
          pod('10.1.1.1', 'region1/zone1'),
          pod('10.1.1.2', 'region1/zone1'),
          pod('10.1.1.3', 'region1/zone1'),
          pod('10.1.2.1', 'region1/zone2'),
        ],
      },
    },
  );
  return plan.outbound.cluster(HELLOWORLD_CLUSTER)!;
}
