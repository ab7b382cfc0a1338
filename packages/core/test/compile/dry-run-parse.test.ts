import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadConfigText } from '../../src/config/load.js';
import { snapshotOf } from './helpers.js';

const wl = { name: 'httpbin-1', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } };

const policy = (value: string, action = 'DENY') => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p, namespace: foo, annotations: { "istio.io/dry-run": ${JSON.stringify(value)} } }
spec:
  action: ${action}
  rules: [{}]
`;

function dryRunOf(value: string): boolean | undefined {
  return compilePlan(snapshotOf(policy(value)), wl).inbound.authorization.deny[0]?.dryRun;
}

/** The load Errors of one document, as [code, path, message]. */
function errorsOf(yaml: string): [string, string, string][] {
  return loadConfigText(yaml, { file: 'p.yaml' })
    .diagnostics.filter((d) => d.level === 'Error')
    .map((d) => [d.code, d.path, d.message]);
}

/**
 * istio pilot/pkg/security/authz/builder/builder.go isDryRun: `strconv.ParseBool` of the
 * annotation. istiod's webhook admits only what ParseBool takes, on ALLOW and DENY
 * AuthorizationPolicies (pkg/config/validation/validation.go checkDryRunAnnotation).
 */
describe('istio.io/dry-run is parsed as Go strconv.ParseBool', () => {
  it.each(['1', 't', 'T', 'TRUE', 'true', 'True'])('%s is dry-run', (v) => {
    expect(dryRunOf(v)).toBe(true);
  });

  it.each(['0', 'f', 'F', 'FALSE', 'false', 'False'])('%j is enforced', (v) => {
    expect(dryRunOf(v)).toBe(false);
  });
});

describe("istio.io/dry-run as istiod's webhook admits it (validation.go checkDryRunAnnotation)", () => {
  it.each(['tRuE', 'yes', ' true', 'true ', ''])('refuses %j, which ParseBool does not take', (v) => {
    expect(errorsOf(policy(v))).toEqual([
      [
        'IST0106',
        'metadata.annotations["istio.io/dry-run"]',
        `foo/p has annotation istio.io/dry-run with invalid value (${v}): strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`,
      ],
    ]);
  });

  it.each(['CUSTOM', 'AUDIT'])('refuses it on a %s policy', (action) => {
    const custom = action === 'CUSTOM' ? '\n  provider: { name: ext }' : '';
    expect(errorsOf(policy('true', `${action}${custom}`))).toEqual([
      [
        'IST0106',
        'metadata.annotations["istio.io/dry-run"]',
        `the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action ${action} in foo/p`,
      ],
    ]);
  });

  it('refuses it on any other kind', () => {
    const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: r, namespace: foo, annotations: { "istio.io/dry-run": "true" } }
spec: { host: reviews }
`;
    expect(errorsOf(dr)).toEqual([
      [
        'IST0106',
        'metadata.annotations["istio.io/dry-run"]',
        'foo/r has unsupported annotation istio.io/dry-run, please remove the annotation',
      ],
    ]);
  });

  it('refuses the internal annotations users may not set', () => {
    const withAnnotation = (a: string) => policy('true').replace('"istio.io/dry-run": "true"', `"${a}": "x"`);
    expect(errorsOf(withAnnotation('internal.istio.io/webhook-always-reject'))[0]?.[2]).toBe(
      '"internal.istio.io/webhook-always-reject" annotation found, rejecting',
    );
    expect(errorsOf(withAnnotation('internal.istio.io/parent-namespace'))[0]?.[2]).toBe(
      '"internal.istio.io/parent-namespace" annotation found, this may not be set by users',
    );
    expect(errorsOf(withAnnotation('internal.istio.io/parents'))[0]?.[2]).toBe(
      '"internal.istio.io/parents" annotation found, this may not be set by users',
    );
  });
});
