import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log/entry.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { PRODUCTPAGE } from './helpers.js';

// An Istio sidecar upstream that was not sent x-envoy-decorator-operation answers with its
// inbound route's operation in that response header, and the egress listener names its
// span after it when it is not empty (envoy source/common/http/conn_manager_impl.cc
// encodeHeaders, egress branch).

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

function nameWith(responseHeaders: Record<string, string>): string {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: PRODUCTPAGE,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  t.startClientSpan({ method: 'GET', url: 'http://10.0.3.3:9080/', headers: {} }).end({
    status: 200,
    upstreamCluster: 'PassthroughCluster',
    entry: () =>
      ({ responseHeaders, requestHeaders: {}, bytesReceived: 0, bytesSent: 0 }) as unknown as AccessLogEntry,
  });
  return exporter.getFinishedSpans()[0]!.name;
}

describe("the upstream's x-envoy-decorator-operation response header", () => {
  it('names the CLIENT span; an empty one does not', () => {
    expect(nameWith({ 'x-envoy-decorator-operation': 'legacy.default.svc.cluster.local:9080/*' })).toBe(
      'legacy.default.svc.cluster.local:9080/*',
    );
    expect(nameWith({ 'x-envoy-decorator-operation': '' })).toBe('egress 10.0.3.3:9080');
  });
});
