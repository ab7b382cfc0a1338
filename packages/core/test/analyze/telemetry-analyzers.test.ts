import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';

// istio pkg/config/analysis/analyzers/telemetry: ProviderAnalyzer (IST0157),
// SelectorAnalyzer (IST0101, IST0159) and DefaultSelectorAnalyzer (IST0160), with the
// cases of analyzers_test.go ("Analyze invalid telemetry", telemetrySelector,
// telemetryDefaultSelector) written out here.
const pod = (ns: string, name: string, labels: string) =>
  `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: { ${labels} } }
---
`;
const telemetry = (ns: string, name: string, spec: string) =>
  `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${spec}
---
`;
const selecting = (labels: string) => `  selector:\n    matchLabels: { ${labels} }\n  tracing: [{}]`;

function run(yaml: string, analyzer: string) {
  const snapshot = loadConfigText(yaml, { file: 'telemetry.yaml' });
  return analyze(snapshot, { analyzers: [analyzer], includeLoaderFindings: false }).map((m) => ({
    code: m.code,
    origin: m.origin,
    reference: m.reference,
    message: m.message,
  }));
}

describe('telemetry.ProviderAnalyzer', () => {
  const yaml = telemetry(
    'istio-system',
    'mesh-default',
    `  accessLogging:
  - providers: [{ name: envoy }]
  - filter: { expression: "response.code >= 400" }`,
  );

  it('reports IST0157 for an accessLogging entry with no provider when no default access log provider is set', () => {
    expect(run(yaml, 'telemetry.ProviderAnalyzer')).toEqual([
      {
        code: 'IST0157',
        origin: 'Telemetry istio-system/mesh-default',
        reference: 'telemetry.yaml:1',
        message:
          'The Telemetry mesh-default in namespace "istio-system" with empty providers will be ignored.',
      },
    ]);
  });

  it('reports nothing for a disabled entry, or when meshConfig names a default access log provider', () => {
    const disabled = telemetry('istio-system', 'mesh-default', '  accessLogging:\n  - disabled: true');
    expect(run(disabled, 'telemetry.ProviderAnalyzer')).toEqual([]);
    const withDefault = istioConfigMap(
      'defaultProviders:\n  metrics: [prometheus]\n  accessLogging: [envoy]',
    );
    expect(run(withDefault + yaml, 'telemetry.ProviderAnalyzer')).toEqual([]);
  });
});

describe('telemetry.SelectorAnalyzer', () => {
  const yaml =
    pod('default', 'productpage', 'app: productpage') +
    pod('other', 'productpage-other', 'app: productpage') +
    pod('default', 'reviews', 'app: reviews') +
    pod('default', 'ratings', 'app: ratings-app, myapp: ratings-myapp') +
    telemetry('default', 'maps-correctly', selecting('app: productpage')) +
    telemetry('default', 'maps-to-nonexistent', selecting('app: bogus')) +
    telemetry('other', 'maps-to-different-ns', selecting('app: reviews')) +
    telemetry('default', 'dupe-1', selecting('app: reviews')) +
    telemetry('default', 'dupe-2', selecting('app: reviews')) +
    telemetry('default', 'overlap-1', selecting('app: ratings-app')) +
    telemetry('default', 'overlap-2', selecting('myapp: ratings-myapp')) +
    telemetry('default', 'no-selector', '  tracing: [{}]');

  it('reports a selector that picks no pod of its namespace, and every Telemetry of a pod several select', () => {
    const messages = run(yaml, 'telemetry.SelectorAnalyzer');
    expect(messages.map((m) => `${m.code} ${m.origin}`).sort()).toEqual([
      'IST0101 Telemetry default/maps-to-nonexistent',
      'IST0101 Telemetry other/maps-to-different-ns',
      'IST0159 Telemetry default/dupe-1',
      'IST0159 Telemetry default/dupe-2',
      'IST0159 Telemetry default/overlap-1',
      'IST0159 Telemetry default/overlap-2',
    ]);
    expect(messages).toContainEqual({
      code: 'IST0101',
      origin: 'Telemetry default/maps-to-nonexistent',
      // istio util.TelemetrySelector: the line of the selector's label.
      reference: 'telemetry.yaml:34',
      message: 'Referenced selector not found: "app=bogus"',
    });
    expect(messages).toContainEqual({
      code: 'IST0159',
      origin: 'Telemetry default/dupe-2',
      // util.MetadataName: the line of metadata.name.
      reference: 'telemetry.yaml:60',
      message:
        'The Telemetries [dupe-1 dupe-2] in namespace "default" select the same workload pod "reviews", which can lead to undefined behavior.',
    });
  });
});

describe('telemetry.DefaultSelectorAnalyzer', () => {
  it('reports IST0160 on each of several selector-less Telemetries in one namespace', () => {
    const yaml =
      telemetry('ns1', 'no-selector', '  tracing: [{}]') +
      telemetry('ns1', 'has-selector', selecting('app: foo')) +
      telemetry('ns2', 'has-conflict-1', '  tracing: [{}]') +
      telemetry('ns2', 'has-conflict-2', '  tracing: [{}]');
    const messages = run(yaml, 'telemetry.DefaultSelectorAnalyzer');
    expect(messages.map((m) => [m.code, m.origin, m.message])).toEqual([
      [
        'IST0160',
        'Telemetry ns2/has-conflict-1',
        'The Telemetries [has-conflict-1 has-conflict-2] in namespace "ns2" have no workload selector, which can lead to undefined behavior.',
      ],
      [
        'IST0160',
        'Telemetry ns2/has-conflict-2',
        'The Telemetries [has-conflict-1 has-conflict-2] in namespace "ns2" have no workload selector, which can lead to undefined behavior.',
      ],
    ]);
  });
});
