import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { destinationServiceOf } from '../../../src/telemetry/metrics/destination-service.js';
import { createEnvoyRbacStats } from '../../../src/telemetry/metrics/envoy-rbac-stats.js';
import { engineFor, planOf, request, verdict } from './support.js';

/**
 * A CUSTOM policy whose provider istiod cannot build becomes an RBAC filter that denies
 * what the policy matches (istio authz/builder builder.go getBadCustomDenyRules, suffix
 * `-deny-due-to-bad-CUSTOM-action`). Envoy counts it as any RBAC filter (rbac_filter.cc
 * allowed_/denied_), in the chain's `authz_enforce_result` stats, beside the ALLOW filter.
 */
const POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: nowhere }
  rules: [{ to: [{ operation: { paths: ["/headers"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-all, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{}]
`;

describe('the RBAC filter istiod builds for a CUSTOM provider it cannot use', () => {
  it('counts in authz_enforce_result: allowed when its policies do not match, denied when they do', async () => {
    const registry = new Registry();
    const service = destinationServiceOf('httpbin.foo.svc.cluster.local', { namespace: 'foo' });
    const engine = engineFor(planOf(POLICIES), { rbacStats: createEnvoyRbacStats(registry, () => service) });
    // Passes the bad-CUSTOM deny filter and the ALLOW filter: 2 allowed.
    expect(verdict(await engine.decide(request({ url: '/ip' })))).toBe('allow');
    // Refused by the bad-CUSTOM deny filter: 1 denied, the ALLOW filter never runs.
    expect(verdict(await engine.decide(request({ url: '/headers' })))).toBe(403);
    const lines = (await registry.metrics())
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .sort();
    expect(lines).toEqual([
      'envoy_http_inbound_0_0_0_0_8000_rbac{authz_enforce_result="allowed"} 2',
      'envoy_http_inbound_0_0_0_0_8000_rbac{authz_enforce_result="denied"} 1',
    ]);
  });
});
