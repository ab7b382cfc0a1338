import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadConfigText } from '../../src/config/load.js';
import { request } from './helpers.js';

function bigConfig(n: number): string {
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: svc-${i}, namespace: ns-${i % 10} }
spec: { ports: [{ name: http, port: 8080 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs-${i}, namespace: ns-${i % 10} }
spec:
  hosts: [svc-${i}]
  http:
  - match: [{ headers: { x-canary: { exact: "1" } } }]
    route: [{ destination: { host: svc-${i}, subset: v2 } }]
  - route: [{ destination: { host: svc-${i}, subset: v1 }, weight: 90 }, { destination: { host: svc-${i}, subset: v2 }, weight: 10 }]
    retries: { attempts: 3, perTryTimeout: 2s }
    timeout: 5s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: dr-${i}, namespace: ns-${i % 10} }
spec:
  host: svc-${i}
  trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: 10 } } }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]`);
  }
  return docs.join('\n---\n');
}

describe('compilePlan performance', () => {
  it('compiles 1,000 VirtualServices and 1,000 DestinationRules quickly', () => {
    const snap = loadConfigText(bigConfig(1000));
    expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);
    const workload = { name: 'c', namespace: 'ns-0', serviceAccount: 'c', labels: {} };
    compilePlan(snap, workload); // warm-up (JIT, re2js)
    const start = performance.now();
    const plan = compilePlan(snap, workload);
    const ms = performance.now() - start;
    console.log(`compilePlan: 1000 VS + 1000 DR in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(2000);
    expect(plan.outbound.virtualHosts).toHaveLength(1000);
    const vh = plan.outbound.lookup('svc-999.ns-9:8080')!;
    expect(
      plan.outbound.route(vh, request({ authority: 'svc-999.ns-9:8080', headers: { 'x-canary': '1' } }))?.id,
    ).toBe('ns-9/vs-999/0');
    expect(
      plan.outbound.cluster('outbound|8080|v2|svc-999.ns-9.svc.cluster.local')?.policy.connectionPool.http
        .http1MaxPendingRequests,
    ).toBe(10);
  });
});
