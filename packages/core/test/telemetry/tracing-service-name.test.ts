import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { REVIEWS_V2 } from './helpers.js';

// The spans' service is the proxy's service cluster, `<app>.<namespace>`, where the app
// name is read `app` first, then `app.kubernetes.io/name`, then the canonical name, else the
// workload name (istio pkg/bootstrap/config.go serviceClusterOrDefault, pkg/kube/labels
// GetApp): not the canonical-service order.

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

function serviceName(labels: Record<string, string>): unknown {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: { ...REVIEWS_V2, labels },
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers: {} }).end({ status: 200 });
  return exporter.getFinishedSpans()[0]!.resource.attributes['service.name'];
}

describe("the spans' service name", () => {
  it('prefers the app label over app.kubernetes.io/name and the canonical name', () => {
    expect(
      serviceName({
        app: 'reviews',
        'app.kubernetes.io/name': 'reviews-api',
        'service.istio.io/canonical-name': 'reviews-canonical',
      }),
    ).toBe('reviews.default');
    expect(
      serviceName({ 'app.kubernetes.io/name': 'reviews-api', 'service.istio.io/canonical-name': 'rc' }),
    ).toBe('reviews-api.default');
  });
});
