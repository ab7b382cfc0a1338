import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createOutboundClient } from '../../src/outbound/client.js';
import { createMemoryTransport } from '../../src/outbound/transports/memory-transport.js';
import { createClusterManager } from '../../src/outbound/upstream/cluster-manager.js';
import { createManualClock } from '../../src/runtime/clock.js';
import { seededRandom } from '../../src/runtime/random.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../src/telemetry/mesh-telemetry.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

// A call through the real outbound pipeline to a Service with no VirtualService: Istio's
// default route names the egress span `<host>:<port>/*` (pilot route.go
// buildSidecarVirtualHostForService), and the span carries Envoy's egress tags; a 404 is
// not an error (envoy http_tracer_impl.cc setCommonTags).

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: details, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: details }
`;

const open: MeshTelemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('the CLIENT span of a mesh.fetch, as the egress sidecar reports it', () => {
  it("is named after the Service's default route and tagged as Envoy tags it", async () => {
    const snap = snapshotOf(CONFIG);
    const plan = compilePlan(snap, PRODUCTPAGE, {
      endpoints: { details: [{ address: '10.0.2.2', port: 9080, labels: { app: 'details' } }] },
    });
    const clock = createManualClock(1_000_000);
    const exporter = new InMemorySpanExporter();
    const telemetry = createMeshTelemetry({
      workload: PRODUCTPAGE,
      snapshot: snap,
      meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
      registry: new Registry(),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      otlp: false,
      env: { INSTANCE_IP: '10.0.0.5' },
      clock,
    });
    open.push(telemetry);
    const client = createOutboundClient({
      getPlan: () => plan,
      clusters: createClusterManager({ clock, random: seededRandom(1) }),
      transport: createMemoryTransport({ '10.0.2.2:9080': () => ({ status: 404, body: 'nope' }) }),
      clock,
      random: seededRandom(1),
      telemetry,
    });
    const res = await client.fetch('http://details:9080/details/1', {
      method: 'POST',
      body: 'hello',
      headers: { 'user-agent': 'node' },
    });
    await res.text();
    const [span] = exporter.getFinishedSpans();
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.name).toBe('details.default.svc.cluster.local:9080/*');
    // The OTel status follows the HTTP conventions (a client 4xx is an error); Envoy's own
    // `error` tag, checked below, does not.
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes).toMatchObject({
      'http.url': 'http://details:9080/details/1',
      'http.method': 'POST',
      'http.protocol': 'HTTP/1.1',
      'http.status_code': '404',
      user_agent: 'node',
      downstream_cluster: '-',
      'peer.address': '10.0.0.5',
      request_size: '5',
      response_size: '4',
      component: 'proxy',
      upstream_cluster: 'outbound|9080||details.default.svc.cluster.local',
      response_flags: '-',
    });
    expect(span!.attributes['error']).toBeUndefined();
  });
});
