import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string, analyzer = 'service.PortNameAnalyzer') =>
  analyze(loadConfigText(yaml, { file: 'svc.yaml' }), {
    analyzers: [analyzer],
    includeLoaderFindings: false,
  });

const svc = (ports: string, namespace = 'shop') => `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ${namespace}
spec:
  selector:
    app: web
  ports:
${ports}
`;

// istio pkg/config/analysis/analyzers/service/portname.go, pkg/config/kube/conversion.go ConvertProtocol.
describe('service.PortNameAnalyzer', () => {
  it('reports a port whose name names no protocol, with istioctl text at the port line', () => {
    const ms = run(svc('  - name: web\n    port: 8080\n    targetPort: http-web'));
    expect(ms.map((m) => [m.code, m.level, m.reference, m.message])).toEqual([
      [
        'IST0118',
        'Info',
        'svc.yaml:11',
        "Port name web (port: 8080, targetPort: http-web) doesn't follow the naming convention of Istio port.",
      ],
    ]);
  });

  it('accepts protocol names and prefixes, appProtocol, UDP and well-known ports', () => {
    const ports = [
      '  - {name: http-web, port: 80}',
      '  - {name: GRPC, port: 81}',
      '  - {name: grpc-web-ui, port: 82}',
      '  - {name: ui, appProtocol: http, port: 83}',
      '  - {name: dns, protocol: UDP, port: 84}',
      '  - {name: db, port: 3306}',
      '  - {name: h2c, appProtocol: kubernetes.io/h2c, port: 85}',
    ].join('\n');
    expect(run(svc(ports))).toEqual([]);
  });

  it('judges appProtocol over the name when set', () => {
    const ms = run(svc('  - {name: http, appProtocol: custom, port: 80, targetPort: 8080}'));
    expect(ms.map((m) => m.code)).toEqual(['IST0118']);
  });
});

describe('analyzers skip istioctl-ignored namespaces', () => {
  it('drops kube-system resources before any analyzer runs, as istioctl does', () => {
    expect(run(svc('  - {name: web, port: 80}', 'kube-system'))).toEqual([]);
    const pod = `apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: kube-node-lease
  annotations:
    sidecar.istio.io/bogus: "1"
spec:
  containers:
  - name: c
`;
    expect(run(pod, 'annotations.K8sAnalyzer')).toEqual([]);
  });
});
