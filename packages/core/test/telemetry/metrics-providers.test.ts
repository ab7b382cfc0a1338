import { describe, expect, it } from 'vitest';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { MESH, PRODUCTPAGE, snapshotOf } from './helpers.js';
import { outboundEvent, samples } from './metrics-support.js';

const telemetry = (
  spec: string,
  ns = 'istio-system',
  name = 'mesh-default',
) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
---
`;
const PROVIDERS = istioConfigMap(`extensionProviders:
- name: my-prom
  prometheus: {}
- name: sd
  stackdriver: {}`);

async function requestCount(yaml: string) {
  const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot: snapshotOf(yaml) });
  m.record(outboundEvent({ source: m.local }));
  return { enabled: m.enabled, rows: await samples(m.registry, 'istio_requests_total') };
}

// istio pilot/pkg/model/telemetry.go: mergeMetrics keys providers by name;
// telemetryFilters resolves each with fetchProvider and buildHTTPTelemetryFilter emits
// the stats filter for every provider whose type is prometheus, whatever its name.
describe('metrics providers', () => {
  it('records metrics for a prometheus-typed provider with another name, with its overrides', async () => {
    const r = await requestCount(
      PROVIDERS +
        telemetry(`  metrics:
  - providers: [{ name: my-prom }]
    overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides: { team: { value: "'payments'" } }
`),
    );
    expect(r.enabled).toBe(true);
    expect(r.rows.map((s) => s.labels['team'])).toEqual(['payments']);
  });

  it('records nothing when a non-prometheus provider replaces the default one', async () => {
    const r = await requestCount(PROVIDERS + telemetry('  metrics:\n  - providers: [{ name: sd }]\n'));
    expect(r.enabled).toBe(false);
    expect(r.rows).toEqual([]);
  });

  it('keeps prometheus on beside another provider, and a disable aimed at the other leaves it alone', async () => {
    const r = await requestCount(
      PROVIDERS +
        telemetry(`  metrics:
  - providers: [{ name: prometheus }, { name: sd }]
  - providers: [{ name: sd }]
    overrides:
    - disabled: true
`),
    );
    // mergeMetrics: the last entry naming providers sets those in scope, so only sd is left.
    expect(r.enabled).toBe(false);
    const both = await requestCount(
      PROVIDERS +
        telemetry(`  metrics:
  - providers: [{ name: sd }]
    overrides:
    - disabled: true
  - providers: [{ name: prometheus }, { name: sd }]
`),
    );
    expect(both.enabled).toBe(true);
    expect(both.rows.length).toBe(1);
  });
});

// mergeMetrics keys overrides by a string: the IstioMetric's name or the customMetric
// as written (getMatches), so `customMetric: REQUEST_DURATION` is the same entry as
// `metric: REQUEST_DURATION`. generateStatsConfig maps enum names to the stats filter's
// metric names (metricToPrometheusMetric) and passes any other name on, which the
// filter matches against its names without the istio_ prefix (istio/proxy
// testdata/stats/client_config_customized names `requests_total`, `request_bytes`).
describe('customMetric', () => {
  it('applies to the standard metric its stats name names, and an enum spelling is the enum', async () => {
    const snapshot = snapshotOf(
      telemetry(`  metrics:
  - overrides:
    - match: { customMetric: requests_total }
      tagOverrides: { via_custom: { value: "'yes'" } }
    - match: { customMetric: REQUEST_DURATION }
      disabled: true
    - match: { customMetric: my_own_metric }
      disabled: true
`),
    );
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
    m.record(outboundEvent({ source: m.local }));
    expect((await samples(m.registry, 'istio_requests_total')).map((s) => s.labels['via_custom'])).toEqual([
      'yes',
    ]);
    expect(await samples(m.registry, 'istio_request_duration_milliseconds_count')).toEqual([]);
    expect((await samples(m.registry, 'istio_request_bytes_count')).length).toBe(1);
  });
});
