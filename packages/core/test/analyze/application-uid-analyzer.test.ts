import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'pod.yaml' }), {
    analyzers: ['applicationUID.Analyzer'],
    includeLoaderFindings: false,
  });

const pod = (containers: string) => `apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: shop
spec:
  containers:
${containers}
`;

// istio pkg/config/analysis/analyzers/deployment/pod.go; messages.yaml IST0144.
describe('applicationUID.Analyzer', () => {
  it('reports an application container running as the proxy UID, with istioctl text', () => {
    const ms = run(pod('  - name: app\n    securityContext:\n      runAsUser: 1337'));
    expect(ms.map((m) => [m.code, m.level, m.origin, m.message])).toEqual([
      ['IST0144', 'Warning', 'Pod shop/app', 'User ID (UID) 1337 is reserved for the sidecar proxy.'],
    ]);
  });

  it('ignores the istio-proxy container and other UIDs', () => {
    expect(
      run(
        pod(
          '  - name: istio-proxy\n    securityContext:\n      runAsUser: 1337\n  - name: app\n    securityContext:\n      runAsUser: 1000',
        ),
      ),
    ).toEqual([]);
  });
});
