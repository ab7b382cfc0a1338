import { describe, expect, it } from 'vitest';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { resolveMetricsConfig } from '../../src/telemetry/config/metrics-config.js';
import { resolveAccessLogs } from '../../src/telemetry/config/access-log-config.js';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

const tel = (ns: string, name: string, created: string, body: string) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns}, creationTimestamp: "${created}" }
spec:
${body}
---
`;

// istio pilot/pkg/model/telemetry.go applicableTelemetries: the oldest namespace-wide
// Telemetry per namespace (namespaceWideTelemetryConfig returns the first), but every
// selector / targetRef Telemetry in the workload's namespace that picks the workload is
// appended (appendApplicableTelemetries, no `break` since istio #47162), oldest first.
describe('applicableTelemetries', () => {
  const yaml =
    tel('istio-system', 'root-new', '2024-01-02T00:00:00Z', '  metrics: [{ overrides: [] }]\n') +
    tel('istio-system', 'root-old', '2024-01-01T00:00:00Z', '  metrics: [{ overrides: [] }]\n') +
    tel('default', 'ns-old', '2024-01-01T00:00:00Z', '  metrics: [{ overrides: [] }]\n') +
    tel('default', 'ns-new', '2024-01-02T00:00:00Z', '  metrics: [{ overrides: [] }]\n') +
    tel(
      'default',
      'by-version',
      '2024-01-05T00:00:00Z',
      `  selector: { matchLabels: { version: v1 } }
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides: { b: { value: "'newer'" }, shared: { value: "'newer'" } }
  accessLogging:
  - match: { mode: SERVER }
    disabled: true
`,
    ) +
    tel(
      'default',
      'by-app',
      '2024-01-03T00:00:00Z',
      `  selector: { matchLabels: { app: productpage } }
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides: { a: { value: "'older'" }, shared: { value: "'older'" } }
  accessLogging:
  - providers: [{ name: envoy }]
`,
    ) +
    tel(
      'default',
      'other',
      '2024-01-04T00:00:00Z',
      '  selector: { matchLabels: { app: reviews } }\n  metrics: [{ overrides: [] }]\n',
    );

  it('keeps the oldest namespace-wide one per namespace and every matching workload one, oldest first', () => {
    const scoped = applicableTelemetries(snapshotOf(yaml), PRODUCTPAGE);
    expect(scoped.map((s) => [s.level, s.resource.metadata.name])).toEqual([
      ['root', 'root-old'],
      ['namespace', 'ns-old'],
      ['workload', 'by-app'],
      ['workload', 'by-version'],
    ]);
  });

  it('merges the metrics overrides of every matching workload Telemetry, the newer on top', () => {
    const r = resolveMetricsConfig(applicableTelemetries(snapshotOf(yaml), PRODUCTPAGE));
    expect(r.overrides.CLIENT.REQUEST_COUNT?.tags.map((t) => [t.name, t.value])).toEqual([
      ['a', "'older'"],
      ['b', "'newer'"],
      ['shared', "'newer'"],
    ]);
  });

  it('applies the access logging of every matching workload Telemetry in order', () => {
    const scoped = applicableTelemetries(snapshotOf(yaml), PRODUCTPAGE);
    const mesh = { ...DEFAULT_MESH_CONFIG };
    expect(resolveAccessLogs(scoped, mesh, 'CLIENT').logs.map((l) => l.provider)).toEqual(['envoy']);
    expect(resolveAccessLogs(scoped, mesh, 'SERVER').logs).toEqual([]);
  });
});
