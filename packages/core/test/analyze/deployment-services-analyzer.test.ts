import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'app.yaml' }), {
    analyzers: ['deployment.MultiServiceAnalyzer'],
    includeLoaderFindings: false,
  });

const deployment = (inject: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web${inject}}
    spec:
      containers:
      - name: web
        image: web:1
`;

const service = (name: string, port: number, extra: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - {name: http, port: ${port}${extra}}
`;

// istio pkg/config/analysis/analyzers/deployment/services.go; messages.yaml IST0116, IST0137.
describe('deployment.MultiServiceAnalyzer', () => {
  it('reports one port exposed with two protocols, with istioctl text', () => {
    const yaml = [
      deployment(', sidecar.istio.io/inject: "true"'),
      service('web-tcp', 80, ', protocol: TCP'),
      service('web-udp', 80, ', protocol: UDP'),
    ].join('---\n');
    expect(run(yaml).map((m) => [m.code, m.origin, m.message])).toEqual([
      [
        'IST0116',
        'Deployment shop/web',
        'This deployment web is associated with multiple services using port 80 but different protocols: [shop/web-tcp shop/web-udp]',
      ],
    ]);
  });

  it('reports one targetPort reached from two ports', () => {
    const yaml = [
      deployment(', sidecar.istio.io/inject: "true"'),
      service('a', 80, ', targetPort: 8080'),
      service('b', 9090, ', targetPort: 8080'),
    ].join('---\n');
    expect(run(yaml).map((m) => m.message)).toEqual([
      'This deployment web is associated with multiple services [shop/a shop/b] using targetPort "8080" but different ports: [80 9090].',
    ]);
  });

  it('skips a Deployment outside the mesh (no inject flag, no injection-enabled Namespace)', () => {
    const yaml = [
      deployment(''),
      service('a', 80, ', targetPort: 8080'),
      service('b', 9090, ', targetPort: 8080'),
    ].join('---\n');
    expect(run(yaml)).toEqual([]);
    const ns = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
`;
    expect(run([ns, yaml].join('---\n')).map((m) => m.code)).toEqual(['IST0137']);
  });
});
