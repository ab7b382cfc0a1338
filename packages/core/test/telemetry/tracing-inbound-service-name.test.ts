import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../src/telemetry/mesh-telemetry.js';
import { REVIEWS_V2, snapshotOf } from './helpers.js';

// The SERVER span is named after the inbound route's decorator, `<service host>:<port>/*`
// (istio core/httproute.go buildSidecarInboundHTTPRouteConfig), with the service the port's
// inbound cluster carries: the Service in the config that targets the port, which a reload
// may change.

const open: MeshTelemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

const everyTrace = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 100
---
`;

const service = (name: string) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { selector: { app: reviews }, ports: [{ port: 9080 }] }
`;

/** reviews-v2's telemetry on `yaml`, its spans kept in memory. */
function traced(yaml: string): { t: MeshTelemetry; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTelemetry({
    workload: REVIEWS_V2,
    snapshot: snapshotOf(yaml),
    meshConfig: DEFAULT_MESH_CONFIG,
    registry: new Registry(),
    otlp: false,
    env: {},
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  open.push(t);
  return { t, exporter };
}

function serverSpanName(t: MeshTelemetry, exporter: InMemorySpanExporter): string {
  t.tracing
    .startServerSpan({
      method: 'GET',
      url: '/',
      scheme: 'http',
      authority: 'x:9080',
      port: 9080,
      headers: {},
    })
    .end({ status: 200 });
  const spans = exporter.getFinishedSpans();
  return spans[spans.length - 1]!.name;
}

describe("the SERVER span's name", () => {
  it("is the route operation of the config's Service for the port, and follows a reload", () => {
    const { t, exporter } = traced(everyTrace + service('reviews-api'));
    expect(serverSpanName(t, exporter)).toBe('reviews-api.default.svc.cluster.local:9080/*');
    t.reload(snapshotOf(everyTrace + service('reviews-v2-api')));
    expect(serverSpanName(t, exporter)).toBe('reviews-v2-api.default.svc.cluster.local:9080/*');
  });

  it("names the Service's port, not the pod's target port (listener_inbound.go: the chain's port is the ServicePort)", () => {
    const { t, exporter } = traced(`${everyTrace}apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 80, targetPort: 9080 }] }
`);
    expect(serverSpanName(t, exporter)).toBe('reviews.default.svc.cluster.local:80/*');
  });
});
