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
const host = 'reviews.svc-ns.svc.cluster.local';

function policyOf(spec: string, key = `outbound|9080||${host}`) {
  const yaml = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: r, namespace: svc-ns }
spec:
  host: ${host}
${spec}
`;
  return compilePlan(snapshotOf(svc, yaml), client).outbound.cluster(key)!.policy;
}

describe('DestinationRule retryBudget', () => {
  // istio cluster_traffic_policy.go applyRetryBudget: min_retry_concurrency is 3 unless
  // MinRetryConcurrency > 0.
  it('uses 3 for minRetryConcurrency: 0', () => {
    expect(
      policyOf('  trafficPolicy: { retryBudget: { percent: 10, minRetryConcurrency: 0 } }').retryBudget,
    ).toEqual({
      percent: 10,
      minRetryConcurrency: 3,
    });
  });

  // istio util.go GetPortLevelTrafficPolicy -> shadowCopyPortTrafficPolicy keeps only
  // connectionPool, loadBalancer, outlierDetection and tls, so a matching port-level entry
  // drops the top-level retryBudget.
  it('drops the top-level retryBudget when a port-level entry matches the port', () => {
    const spec = `  trafficPolicy:
    retryBudget: { percent: 10 }
    portLevelSettings: [{ port: { number: 9090 }, loadBalancer: { simple: RANDOM } }]`;
    expect(policyOf(spec, `outbound|9090||${host}`).retryBudget).toBeNull();
    expect(policyOf(spec).retryBudget).toEqual({ percent: 10, minRetryConcurrency: 3 });
  });

  // MergeSubsetTrafficPolicy: the subset's policy is also port-resolved first, and
  // MergeTrafficPolicy then keeps the inherited retryBudget (the subset's copy has none).
  it("keeps the inherited retryBudget, not the subset's, when the subset has a matching port entry", () => {
    const spec = `  trafficPolicy: { retryBudget: { percent: 10 } }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy:
      retryBudget: { percent: 50 }
      portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: RANDOM } }]
  - name: v2
    labels: { version: v2 }
    trafficPolicy: { retryBudget: { percent: 50 } }`;
    expect(policyOf(spec, `outbound|9080|v1|${host}`).retryBudget).toEqual({
      percent: 10,
      minRetryConcurrency: 3,
    });
    expect(policyOf(spec, `outbound|9080|v2|${host}`).retryBudget).toEqual({
      percent: 50,
      minRetryConcurrency: 3,
    });
  });
});

describe('DestinationRule outlierDetection local-origin failures', () => {
  // istio cluster_traffic_policy.go applyOutlierDetection writes consecutive_local_origin_failure
  // only when ConsecutiveLocalOriginFailures > 0, so 0 leaves Envoy's default of 5.
  it('uses 5 for consecutiveLocalOriginFailures: 0', () => {
    const od = policyOf(
      '  trafficPolicy: { outlierDetection: { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 0 } }',
    ).outlierDetection;
    expect([od?.splitExternalLocalOriginErrors, od?.consecutiveLocalOriginFailures]).toEqual([true, 5]);
  });
});
