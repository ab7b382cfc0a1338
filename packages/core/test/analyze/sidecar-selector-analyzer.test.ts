import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'sc.yaml' }), {
    analyzers: ['sidecar.SelectorAnalyzer'],
    includeLoaderFindings: false,
  });

const sidecar = (name: string, selector: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: ${name}
  namespace: shop
spec:
${selector}  egress:
  - hosts: ["./*"]
`;

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web}
spec:
  containers:
  - name: web
`;

// istio pkg/config/analysis/analyzers/sidecar/selector.go; messages.yaml IST0110, IST0111, IST0167.
describe('sidecar.SelectorAnalyzer', () => {
  it('reports Sidecars selecting the same pod, with istioctl text', () => {
    const sel = '  workloadSelector:\n    labels:\n      app: web\n';
    const ms = run([POD, sidecar('a', sel), sidecar('b', sel)].join('---\n'));
    expect(ms.map((m) => [m.code, m.level, m.origin, m.message])).toEqual([
      [
        'IST0110',
        'Error',
        'Sidecar shop/a',
        'The Sidecars [a b] in namespace "shop" select the same workload pod "web-0", which can lead to undefined behavior.',
      ],
      [
        'IST0110',
        'Error',
        'Sidecar shop/b',
        'The Sidecars [a b] in namespace "shop" select the same workload pod "web-0", which can lead to undefined behavior.',
      ],
    ]);
  });

  it('reports a selector matching no pod, and several namespace-wide Sidecars', () => {
    const ms = run(
      [
        POD,
        sidecar('lost', '  workloadSelector:\n    labels:\n      app: nope\n'),
        sidecar('x', ''),
        sidecar('y', ''),
      ].join('---\n'),
    );
    expect(ms.map((m) => [m.code, m.origin, m.message])).toEqual([
      ['IST0101', 'Sidecar shop/lost', 'Referenced selector not found: "app=nope"'],
      [
        'IST0111',
        'Sidecar shop/x',
        'The Sidecars [x y] in namespace "shop" have no workload selector, which can lead to undefined behavior.',
      ],
      [
        'IST0111',
        'Sidecar shop/y',
        'The Sidecars [x y] in namespace "shop" have no workload selector, which can lead to undefined behavior.',
      ],
    ]);
  });

  it('reports a Sidecar in an ambient namespace as ineffective', () => {
    const ns = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio.io/dataplane-mode: ambient}
`;
    const ms = run([ns, sidecar('x', '')].join('---\n'));
    expect(ms.map((m) => [m.code, m.level, m.message])).toEqual([
      [
        'IST0167',
        'Warning',
        'The policy has no impact: namespace is in ambient mode, the policy has no impact.',
      ],
    ]);
  });
});
