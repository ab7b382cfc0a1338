import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { MeshPlan } from '../../src/compile/plan-types.js';
import type { StaticEndpoint } from '../../src/compile/registry.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { loadConfigText } from '../../src/config/load.js';
import { SAMPLES } from '../helpers/tmp.js';

export const SLEEP: WorkloadIdentity = {
  name: 'sleep',
  namespace: 'default',
  serviceAccount: 'sleep',
  labels: { app: 'sleep' },
};

export const PRODUCTPAGE: WorkloadIdentity = {
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};

/** Compiles the named Istio sample files (read in place) for `workload`. */
export function planOf(
  files: readonly string[],
  workload: WorkloadIdentity,
  endpoints?: Readonly<Record<string, readonly StaticEndpoint[]>>,
): MeshPlan {
  const snap = loadConfigText(
    files.map((f) => ({ file: f, text: readFileSync(path.join(SAMPLES, f), 'utf8') })),
  );
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  return compilePlan(snap, workload, endpoints === undefined ? {} : { endpoints });
}

/** httpbin with Istio's circuit-breaking DestinationRule and two endpoints. */
export function httpbinPlan(): MeshPlan {
  return planOf(
    ['httpbin/httpbin.yaml', 'tasks/circuit-breaking/destination-rule-httpbin-circuit-breaker.yaml'],
    SLEEP,
    {
      httpbin: [
        { address: '10.0.0.1', port: 8080 },
        { address: '10.0.0.2', port: 8080 },
      ],
    },
  );
}

export const HTTPBIN_CLUSTER = 'outbound|8000||httpbin.default.svc.cluster.local';

/** Bookinfo with subsets and the jason → v2 / else v3 reviews VirtualService. */
export function bookinfoPlan(): MeshPlan {
  return planOf(
    [
      'bookinfo-platform/bookinfo.yaml',
      'bookinfo-networking/destination-rule-all.yaml',
      'bookinfo-networking/virtual-service-reviews-jason-v2-v3.yaml',
    ],
    PRODUCTPAGE,
    {
      reviews: [
        { address: '10.1.0.1', port: 9080, labels: { app: 'reviews', version: 'v1' } },
        { address: '10.1.0.2', port: 9080, labels: { app: 'reviews', version: 'v2' } },
        { address: '10.1.0.3', port: 9080, labels: { app: 'reviews', version: 'v3' } },
      ],
    },
  );
}
