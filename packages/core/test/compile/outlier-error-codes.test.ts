import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from './helpers.js';

// `outlierDetection.outlierDetectionHttpErrorCodes`: istio cluster_traffic_policy.go only
// builds the cluster's outlier error matcher when the list is non-empty
// (`len(OutlierDetectionHttpErrorCodes) > 0`); otherwise Envoy keeps counting 5xx.

const svc = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { ports: [{ name: http, port: 9080 }] }
`;
const client = { name: 'c', namespace: 'default', serviceAccount: 'c', labels: { app: 'c' } };

function outlier(body: string) {
  const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { outlierDetection: ${body} }
`;
  const cluster = compilePlan(snapshotOf(svc, dr), client).outbound.cluster(
    'outbound|9080||reviews.default.svc.cluster.local',
  );
  return cluster!.policy.outlierDetection;
}

describe('outlierDetection.outlierDetectionHttpErrorCodes', () => {
  it('keeps the listed codes', () => {
    expect(outlier('{ outlierDetectionHttpErrorCodes: [429, 503] }')?.httpErrorCodes).toEqual([429, 503]);
  });

  it('is null (count 5xx) when unset or empty', () => {
    expect(outlier('{ consecutive5xxErrors: 3 }')?.httpErrorCodes).toBeNull();
    expect(outlier('{ outlierDetectionHttpErrorCodes: [] }')?.httpErrorCodes).toBeNull();
  });
});
