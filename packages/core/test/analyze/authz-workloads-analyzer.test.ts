import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'ap.yaml' }), {
    analyzers: ['auth.AuthorizationPoliciesAnalyzer'],
    includeLoaderFindings: false,
  });

const NS = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:1
`;

const policy = (selector: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow
  namespace: shop
spec:
${selector}  action: ALLOW
  rules:
  - {}
`;

// istio pkg/config/analysis/analyzers/authz/authorizationpolicies.go; messages.yaml IST0127.
describe('auth.AuthorizationPoliciesAnalyzer (IST0127)', () => {
  it('reports a selector matching no mesh workload, with istioctl text', () => {
    const ms = run([NS, DEPLOYMENT, policy('  selector:\n    matchLabels:\n      app: api\n')].join('---\n'));
    expect(ms.map((m) => [m.code, m.level, m.origin, m.message])).toEqual([
      [
        'IST0127',
        'Warning',
        'AuthorizationPolicy shop/allow',
        'No matching workloads for this resource with the following labels: app=api',
      ],
    ]);
  });

  it('accepts a policy selecting a mesh Deployment, or namespace-wide over one', () => {
    expect(
      run([NS, DEPLOYMENT, policy('  selector:\n    matchLabels:\n      app: web\n')].join('---\n')),
    ).toEqual([]);
    expect(run([NS, DEPLOYMENT, policy('')].join('---\n'))).toEqual([]);
  });

  it('counts a workload with no injection signal (it may run meshlet), not one kept out of the mesh', () => {
    // Istio counts the first out too; a meshlet pod has no sidecar to tell it by.
    expect(run([DEPLOYMENT, policy('')].join('---\n'))).toEqual([]);
    const optedOut = DEPLOYMENT.replace(
      'labels: {app: web}\n    spec:',
      "labels: {app: web, sidecar.istio.io/inject: 'false'}\n    spec:",
    );
    expect(optedOut).not.toBe(DEPLOYMENT);
    const disabled = NS.replace('istio-injection: enabled', 'istio-injection: disabled');
    for (const docs of [
      [optedOut, policy('')],
      [disabled, DEPLOYMENT, policy('')],
    ]) {
      const ms = run(docs.join('---\n'));
      expect(ms.map((m) => [m.code, m.message])).toEqual([
        ['IST0127', 'No matching workloads for this resource with the following labels: '],
      ]);
    }
  });
});
