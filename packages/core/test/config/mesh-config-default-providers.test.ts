import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { MESH, PRODUCTPAGE } from '../telemetry/helpers.js';
import { outboundEvent, samples } from '../telemetry/metrics-support.js';

// istiod's own default `defaultProviders` is empty (pkg/config/mesh/mesh.go); the `istio`
// ConfigMap an install renders adds `metrics: [prometheus]` only when the user set no
// `defaultProviders` at all (manifests/charts/istio-control/istio-discovery/templates/
// _helpers.tpl "default-prometheus", configmap.yaml). A mesh config that names other
// default providers and no metrics one therefore records no istio_* metrics in Istio.
const ZIPKIN = `extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411 }
`;

function load(mesh: string) {
  return loadConfigText(istioConfigMap(ZIPKIN + mesh), { file: 'mesh/istio.yaml' });
}

async function requestCount(mesh: string) {
  const snapshot = load(mesh);
  const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, snapshot });
  m.record(outboundEvent({ source: m.local }));
  return (await samples(m.registry, 'istio_requests_total')).length;
}

describe('meshConfig defaultProviders.metrics', () => {
  it('is [prometheus] when the mesh config sets no defaultProviders, as an install renders it', async () => {
    const snap = load('accessLogFile: /dev/stdout');
    expect(snap.meshConfig.defaultProviders.metrics).toEqual(['prometheus']);
    expect(snap.diagnostics).toEqual([]);
    expect(await requestCount('accessLogFile: /dev/stdout')).toBe(1);
  });

  it('is empty, with a warning that says how to keep metrics, when defaultProviders names no metrics', async () => {
    const mesh = 'defaultProviders:\n  tracing: [zipkin]';
    const snap = load(mesh);
    expect(snap.meshConfig.defaultProviders).toEqual({ tracing: ['zipkin'], metrics: [], accessLogging: [] });
    expect(snap.diagnostics).toHaveLength(1);
    const [d] = snap.diagnostics;
    expect(d).toMatchObject({ code: 'MESHLET0007', level: 'Warning', file: 'mesh/istio.yaml' });
    expect(d?.path).toBe('defaultProviders');
    expect(d?.line).toBe(9);
    expect(d?.message).toContain('metrics: [prometheus]');
    expect(await requestCount(mesh)).toBe(0);
  });

  it('keeps the metrics providers it names, and an explicitly empty list without a warning', async () => {
    const named = load('defaultProviders:\n  metrics: [prometheus]\n  tracing: [zipkin]');
    expect(named.meshConfig.defaultProviders.metrics).toEqual(['prometheus']);
    expect(named.diagnostics).toEqual([]);
    const empty = load('defaultProviders:\n  metrics: []');
    expect(empty.meshConfig.defaultProviders.metrics).toEqual([]);
    expect(empty.diagnostics).toEqual([]);
    expect(await requestCount('defaultProviders:\n  metrics: []')).toBe(0);
  });
});
