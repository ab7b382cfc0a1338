import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from './helpers.js';

const wl = { name: 'httpbin-1', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } };

function dryRunOf(value: string): boolean | undefined {
  const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p, namespace: foo, annotations: { "istio.io/dry-run": ${JSON.stringify(value)} } }
spec:
  action: DENY
  rules: [{}]
`;
  return compilePlan(snapshotOf(yaml), wl).inbound.authorization.deny[0]?.dryRun;
}

/**
 * istio pilot/pkg/security/authz/builder/builder.go isDryRun: `strconv.ParseBool` of
 * the annotation; a value it refuses is logged and the policy is enforced (false).
 */
describe('istio.io/dry-run is parsed as Go strconv.ParseBool', () => {
  it.each(['1', 't', 'T', 'TRUE', 'true', 'True'])('%s is dry-run', (v) => {
    expect(dryRunOf(v)).toBe(true);
  });

  it.each(['0', 'f', 'F', 'FALSE', 'false', 'False', 'tRuE', 'yes', ' true', 'true ', ''])(
    '%j is enforced',
    (v) => {
      expect(dryRunOf(v)).toBe(false);
    },
  );
});
