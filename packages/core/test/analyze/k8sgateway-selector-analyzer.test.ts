import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: web-gateway-istio-0
  namespace: shop
  labels:
    gateway.networking.k8s.io/gateway-name: web-gateway
spec:
  containers:
  - name: istio-proxy
    image: proxyv2
`;

const policy = (extra: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny
  namespace: shop
spec:
${extra}  action: DENY
  rules:
  - {}
`;

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'ap.yaml' }), {
    analyzers: ['k8sgateway.SelectorAnalyzer'],
    includeLoaderFindings: false,
  });

// istio pkg/config/analysis/analyzers/k8sgateway/workloadselector.go; messages.yaml IST0166.
describe('k8sgateway.SelectorAnalyzer', () => {
  it('reports a selector on a Kubernetes Gateway pod, with istioctl text', () => {
    const sel = '  selector:\n    matchLabels:\n      gateway.networking.k8s.io/gateway-name: web-gateway\n';
    const ms = run([POD, policy(sel)].join('---\n'));
    expect(ms.map((m) => [m.code, m.level, m.origin, m.message])).toEqual([
      [
        'IST0166',
        'Warning',
        'AuthorizationPolicy shop/deny',
        'Ineffective selector on Kubernetes Gateway web-gateway. Use the TargetRef field instead.',
      ],
    ]);
  });

  it('accepts targetRef policies and selectors that pick no gateway pod', () => {
    const ref =
      '  targetRef:\n    group: gateway.networking.k8s.io\n    kind: Gateway\n    name: web-gateway\n';
    const other = '  selector:\n    matchLabels:\n      app: web\n';
    expect(run([POD, policy(ref)].join('---\n'))).toEqual([]);
    expect(run([POD, policy(other)].join('---\n'))).toEqual([]);
  });
});
