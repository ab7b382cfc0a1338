import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { Cluster, Endpoint } from '../../../src/compile/plan-types.js';
import { loadConfigText } from '../../../src/config/load.js';
import { createManualClock, type ManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { createClusterManager } from '../../../src/outbound/upstream/cluster-manager.js';
import type { UpstreamEvent } from '../../../src/outbound/upstream/events.js';
import type { ClusterManager, PickContext } from '../../../src/outbound/upstream/types.js';
import { SAMPLES } from '../../helpers/tmp.js';

const client = { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', labels: { app: 'sleep' } };

function compileCluster(texts: string[], key: string): Cluster {
  const snap = loadConfigText(texts.map((text, i) => ({ text, file: `doc-${i}.yaml` })));
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  const cluster = compilePlan(snap, client).outbound.cluster(key);
  if (cluster === null) throw new Error(`no cluster ${key}`);
  return cluster;
}

/** The plan cluster for Istio's circuit-breaking task: httpbin + its DestinationRule, read in place. */
export function httpbinCircuitBreaker(): Cluster {
  return compileCluster(
    [
      readFileSync(path.join(SAMPLES, 'httpbin/httpbin.yaml'), 'utf8'),
      readFileSync(
        path.join(SAMPLES, 'tasks/circuit-breaking/destination-rule-httpbin-circuit-breaker.yaml'),
        'utf8',
      ),
    ],
    'outbound|8000||httpbin.default.svc.cluster.local',
  );
}

/** The `reviews:9080` cluster under a DestinationRule whose `trafficPolicy` is `policy` (YAML flow map). */
export function reviewsCluster(policy: string | null): Cluster {
  const svc = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { ports: [{ name: http, port: 9080 }] }
`;
  const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: ${policy}
`;
  return compileCluster(
    policy === null ? [svc] : [svc, dr],
    'outbound|9080||reviews.default.svc.cluster.local',
  );
}

/** `n` endpoints 10.0.0.1..n on port 9080, with optional weights. */
export function endpoints(n: number, weights: readonly number[] = []): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.0.0.${i + 1}`,
    port: 9080,
    labels: { app: 'reviews' },
    serviceAccount: null,
    weight: weights[i] ?? 1,
    locality: null,
    network: null,
  }));
}

/**
 * Envoy's load-balancer tests' hosts: `makeTestHost(info_, "tcp://127.0.0.1:<port>", weight)`
 * for each port, so the ring and Maglev expectations of ring_hash_lb_test.cc and
 * maglev_lb_test.cc apply unchanged.
 */
export function loopbackEndpoints(ports: readonly number[], weights: readonly number[] = []): Endpoint[] {
  return ports.map((port, i) => ({
    address: '127.0.0.1',
    port,
    labels: { app: 'reviews' },
    serviceAccount: null,
    weight: weights[i] ?? 1,
    locality: null,
    network: null,
  }));
}

/** A 64-bit hash as its halves, from a decimal or hex BigInt. */
export function h64(v: bigint): { hi: number; lo: number } {
  return { hi: Number((v >> 32n) & 0xffffffffn), lo: Number(v & 0xffffffffn) };
}

export interface Harness {
  readonly clock: ManualClock;
  readonly manager: ClusterManager;
  readonly events: UpstreamEvent[];
}

export function harness(seed = 1): Harness {
  const clock = createManualClock();
  const events: UpstreamEvent[] = [];
  const manager = createClusterManager({ clock, random: seededRandom(seed), onEvent: (e) => events.push(e) });
  return { clock, manager, events };
}

export const NO_CONTEXT: PickContext = { exclude: new Set(), hashKey: null };

export function ctx(partial: Partial<PickContext>): PickContext {
  return { ...NO_CONTEXT, ...partial };
}

/** How many times each host id was picked. */
export function tally(ids: readonly (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) if (id !== undefined) out[id] = (out[id] ?? 0) + 1;
  return out;
}
