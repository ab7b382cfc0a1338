import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from './helpers.js';

const svc = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: svc-ns }
spec: { ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9090 }] }
`;
const client = { name: 'c', namespace: 'client-ns', serviceAccount: 'c', labels: { app: 'c' } };

function dr(
  ns: string,
  name: string,
  body: string,
  host = 'reviews.svc-ns.svc.cluster.local',
  ts?: string,
): string {
  return `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${ns}${ts === undefined ? '' : `, creationTimestamp: "${ts}"`} }
spec:
  host: "${host}"
${body}
`;
}

const lb = (simple: string) => `  trafficPolicy: { loadBalancer: { simple: ${simple} } }`;

function cluster(yaml: string, key = 'outbound|9080||reviews.svc-ns.svc.cluster.local', workload = client) {
  return compilePlan(snapshotOf(svc, yaml), workload).outbound.cluster(key)!;
}

describe('DestinationRule lookup', () => {
  it.each([
    [
      'client namespace first',
      [
        dr('client-ns', 'a', lb('RANDOM')),
        dr('svc-ns', 'b', lb('ROUND_ROBIN')),
        dr('istio-system', 'c', lb('PASSTHROUGH')),
      ],
      'RANDOM',
    ],
    [
      'then the service namespace',
      [dr('svc-ns', 'b', lb('ROUND_ROBIN')), dr('istio-system', 'c', lb('PASSTHROUGH'))],
      'ROUND_ROBIN',
    ],
    ['then the root namespace', [dr('istio-system', 'c', lb('PASSTHROUGH'))], 'PASSTHROUGH'],
    [
      'skipping rules not exported to the client',
      [dr('svc-ns', 'b', `${lb('ROUND_ROBIN')}\n  exportTo: ["."]`), dr('istio-system', 'c', lb('RANDOM'))],
      'RANDOM',
    ],
    [
      'exact host beats a wildcard in the same scope',
      [dr('svc-ns', 'w', lb('RANDOM'), '*.svc-ns.svc.cluster.local'), dr('svc-ns', 'e', lb('ROUND_ROBIN'))],
      'ROUND_ROBIN',
    ],
    [
      'a wildcard applies when no exact host exists',
      [dr('svc-ns', 'w', lb('RANDOM'), '*.svc.cluster.local')],
      'RANDOM',
    ],
    ['short host resolves in the rule namespace', [dr('svc-ns', 's', lb('RANDOM'), 'reviews')], 'RANDOM'],
    [
      'short host in another namespace names another service',
      [dr('client-ns', 's', lb('RANDOM'), 'reviews')],
      'LEAST_REQUEST',
    ],
    [
      'selector rules ignore non-matching workloads',
      [dr('client-ns', 's', `${lb('RANDOM')}\n  workloadSelector: { matchLabels: { app: other } }`)],
      'LEAST_REQUEST',
    ],
    [
      'selector rules apply to matching workloads',
      [dr('client-ns', 's', `${lb('RANDOM')}\n  workloadSelector: { matchLabels: { app: c } }`)],
      'RANDOM',
    ],
  ])('%s', (_, docs, want) => {
    expect(cluster(docs.join('---')).policy.loadBalancer.simple).toBe(want);
  });

  it('merges same-host rules: subsets concatenated (first name wins), first trafficPolicy wins', () => {
    const yaml = [
      dr(
        'svc-ns',
        'one',
        `${lb('RANDOM')}\n  subsets: [{ name: v1, labels: { version: v1 } }]`,
        undefined,
        '2024-01-01T00:00:00Z',
      ),
      dr(
        'svc-ns',
        'two',
        `${lb('ROUND_ROBIN')}\n  subsets: [{ name: v1, labels: { version: other } }, { name: v2, labels: { version: v2 } }]`,
        undefined,
        '2024-02-01T00:00:00Z',
      ),
    ].join('---');
    expect(cluster(yaml, 'outbound|9080|v1|reviews.svc-ns.svc.cluster.local').subsetLabels).toEqual({
      version: 'v1',
    });
    const v2 = cluster(yaml, 'outbound|9080|v2|reviews.svc-ns.svc.cluster.local');
    expect(v2.status).toBe('ok');
    expect(v2.policy.loadBalancer.simple).toBe('RANDOM');
    expect(v2.destinationRules.map((r) => r.name)).toEqual(['one', 'two']);
  });
});

describe('traffic policy precedence', () => {
  const yaml = dr(
    'svc-ns',
    'r',
    `  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool: { http: { http1MaxPendingRequests: 10 } }
    outlierDetection: { consecutive5xxErrors: 7 }
    portLevelSettings:
    - port: { number: 9090 }
      loadBalancer: { simple: RANDOM }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy:
      connectionPool: { tcp: { maxConnections: 1, connectTimeout: 250ms } }
  - name: v2
    labels: { version: v2 }
    trafficPolicy:
      portLevelSettings:
      - port: { number: 9080 }
        outlierDetection: { interval: 1s }`,
  );

  it('uses the top-level policy with defaults filled', () => {
    const p = cluster(yaml).policy;
    expect(p.loadBalancer.simple).toBe('ROUND_ROBIN');
    expect(p.connectionPool.http.http1MaxPendingRequests).toBe(10);
    expect(p.connectionPool.http.http2MaxRequests).toBe(4294967295);
    expect(p.outlierDetection).toMatchObject({
      consecutive5xxErrors: 7,
      intervalMs: 10000,
      baseEjectionTimeMs: 30000,
      maxEjectionPercent: 10,
    });
  });

  it('takes tcp.idleTimeout as the HTTP idle timeout when http.idleTimeout is unset (istio applyConnectionPool)', () => {
    const pool = (cp: string) =>
      cluster(dr('svc-ns', 'r', `  trafficPolicy: { connectionPool: ${cp} }`)).policy.connectionPool;
    expect(pool('{ tcp: { idleTimeout: 5s } }').http.idleTimeoutMs).toBe(5_000);
    expect(pool('{ tcp: { idleTimeout: 5s }, http: { idleTimeout: 2s } }').http.idleTimeoutMs).toBe(2_000);
    expect(pool('{ tcp: { maxConnections: 3 } }').http.idleTimeoutMs).toBe(3_600_000);
  });

  it('reads tcp.maxConnectionDuration and tcpKeepalive.time', () => {
    const tcp = cluster(
      dr(
        'svc-ns',
        'r',
        '  trafficPolicy: { connectionPool: { tcp: { maxConnectionDuration: 30s, tcpKeepalive: { time: 7s, interval: 1s } } } }',
      ),
    ).policy.connectionPool.tcp;
    expect(tcp).toMatchObject({ maxConnectionDurationMs: 30_000, keepaliveTimeMs: 7_000 });
    expect(cluster(yaml).policy.connectionPool.tcp).toMatchObject({
      maxConnectionDurationMs: null,
      keepaliveTimeMs: null,
    });
  });

  it('reads retryBudget percent as the plain number the API takes, defaulting to 20% / 3', () => {
    const set = cluster(
      dr('svc-ns', 'r', '  trafficPolicy: { retryBudget: { percent: 35.5, minRetryConcurrency: 7 } }'),
    );
    expect(set.policy.retryBudget).toEqual({ percent: 35.5, minRetryConcurrency: 7 });
    const unset = cluster(dr('svc-ns', 'r', '  trafficPolicy: { retryBudget: {} }'));
    expect(unset.policy.retryBudget).toEqual({ percent: 20, minRetryConcurrency: 3 });
  });

  it('replaces the top-level policy with the port-level entry, without inheritance', () => {
    const p = cluster(yaml, 'outbound|9090||reviews.svc-ns.svc.cluster.local').policy;
    expect(p.loadBalancer.simple).toBe('RANDOM');
    expect(p.connectionPool.http.http1MaxPendingRequests).toBe(4294967295);
    expect(p.outlierDetection).toBeNull();
  });

  it('lets a subset component replace the inherited one wholesale and keep the others', () => {
    const p = cluster(yaml, 'outbound|9080|v1|reviews.svc-ns.svc.cluster.local').policy;
    expect(p.connectionPool.tcp).toMatchObject({ maxConnections: 1, connectTimeoutMs: 250 });
    expect(p.connectionPool.http.http1MaxPendingRequests).toBe(4294967295);
    expect(p.loadBalancer.simple).toBe('ROUND_ROBIN');
    expect(p.outlierDetection?.consecutive5xxErrors).toBe(7);
  });

  it('applies a subset port-level entry last', () => {
    const p = cluster(yaml, 'outbound|9080|v2|reviews.svc-ns.svc.cluster.local').policy;
    expect(p.outlierDetection).toMatchObject({ intervalMs: 1000, consecutive5xxErrors: 5 });
    expect(p.loadBalancer.simple).toBe('LEAST_REQUEST');
  });

  it('marks an undefined subset so the runtime answers 503 NC', () => {
    const vs = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: svc-ns }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: nope, port: { number: 9080 } } }] }]
`;
    const c = cluster(`${yaml}---${vs}`, 'outbound|9080|nope|reviews.svc-ns.svc.cluster.local');
    expect(c.status).toBe('no-subset');
    expect(c.endpoints).toEqual([]);
  });
});
