import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const MESH = `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |
    extensionProviders:
    - name: ls
      lightstep:
        service: lightstep.monitoring.svc.cluster.local
        port: 443
        accessToken: fake
`;

const TELEMETRY = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system
spec:
  tracing:
  - providers:
    - name: ls
`;

// istio pkg/config/analysis/analyzers/telemetry/lightstep.go.
describe('telemetry.LightstepAnalyzer', () => {
  it('reports tracing through a lightstep provider as deprecated, with istioctl text', () => {
    const ms = analyze(loadConfigText([MESH, TELEMETRY].join('---\n'), { file: 't.yaml' }), {
      analyzers: ['telemetry.LightstepAnalyzer'],
      includeLoaderFindings: false,
    });
    expect(ms.map((m) => [m.code, m.level, m.origin, m.message])).toEqual([
      [
        'IST0002',
        'Warning',
        'Telemetry istio-system/mesh-default',
        'Deprecated: The Lightstep provider ls is deprecated, please migrate to OpenTelemetry provider.',
      ],
    ]);
  });
});
