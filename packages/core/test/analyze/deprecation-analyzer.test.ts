import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfig, loadConfigText } from '../../src/config/load.js';
import { SAMPLES } from './support/raw-snapshot.js';

// istio pkg/config/analysis/analyzers/deprecation/deprecation.go.
describe('deprecation.DeprecationAnalyzer', () => {
  it('reports each deprecated field once when loader findings are included too', async () => {
    const snapshot = await loadConfig(path.join(SAMPLES, 'analyzers', 'deprecation.yaml'));
    const ours = analyze(snapshot)
      .filter((m) => m.code === 'IST0002' && m.resource?.kind !== 'EnvoyFilter')
      .map((m) => [m.origin, m.message]);
    expect(ours).toEqual([
      ['Sidecar default/no-selector', 'Deprecated: OutboundTrafficPolicy.EgressProxy ignored'],
      [
        'VirtualService foo/productpage',
        'Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
      ],
    ]);
  });

  it('reports a removed rbac.istio.io CustomResourceDefinition', () => {
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: serviceroles.rbac.istio.io
spec:
  group: rbac.istio.io
  names:
    kind: ServiceRole
    plural: serviceroles
  scope: Namespaced
`;
    const ms = analyze(loadConfigText(crd, { file: 'crd.yaml' }), {
      analyzers: ['deprecation.DeprecationAnalyzer'],
      includeLoaderFindings: false,
    });
    expect(ms.map((m) => [m.code, m.origin, m.message])).toEqual([
      [
        'IST0002',
        'CustomResourceDefinition serviceroles.rbac.istio.io',
        'Deprecated: Custom resource type rbac.istio.io ServiceRole is removed',
      ],
    ]);
  });
});
