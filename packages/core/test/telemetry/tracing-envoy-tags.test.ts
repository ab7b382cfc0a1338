import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log/entry.js';
import type { ResolvedTracing } from '../../src/telemetry/config/tracing-config.js';
import { resolveTracing } from '../../src/telemetry/config/tracing-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { REVIEWS_V2 } from './helpers.js';

// The tags Envoy's connection manager puts on its span (source/common/tracing/
// http_tracer_impl.cc finalizeDownstreamSpan and setCommonTags; tracer_impl.cc startSpan
// for node_id and zone). A sidecar's outbound span is its egress listener's downstream span,
// so a CLIENT span carries the same set. Values are strings, as Envoy's setTag takes them.

const NODE = 'sidecar~10.0.0.5~reviews-v2.default~default.svc.cluster.local';
const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

function tracing(resolved?: ResolvedTracing, workload: WorkloadIdentity = REVIEWS_V2) {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
    ...(resolved === undefined ? {} : { tracing: resolved }),
    nodeId: NODE,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  return { t, exporter };
}

const entry = (over: Partial<AccessLogEntry>) => () =>
  ({
    protocol: 'HTTP/1.1',
    bytesReceived: 11,
    bytesSent: 22,
    requestHeaders: {},
    responseHeaders: {},
    upstreamCluster: null,
    ...over,
  }) as unknown as AccessLogEntry;

describe("Envoy's standard span tags", () => {
  it('tags a SERVER span as the inbound listener does', () => {
    const { t, exporter } = tracing();
    t.startServerSpan({
      method: 'GET',
      url: '/reviews/0?u=1',
      scheme: 'http',
      authority: 'reviews:9080',
      port: 9080,
      headers: { 'x-request-id': 'rid-1', 'x-client-trace-id': 'ct-1' },
      peerAddress: '10.0.0.7',
    }).end({
      status: 200,
      requestBytes: 400,
      responseBytes: 500,
      entry: entry({ upstreamCluster: 'inbound|9080||' }),
    });
    expect(exporter.getFinishedSpans()[0]!.attributes).toMatchObject({
      'guid:x-request-id': 'rid-1',
      'guid:x-client-trace-id': 'ct-1',
      'http.url': 'http://reviews:9080/reviews/0?u=1',
      'http.method': 'GET',
      'http.protocol': 'HTTP/1.1',
      downstream_cluster: '-',
      user_agent: '-',
      'peer.address': '10.0.0.7',
      // Body bytes: Envoy's stream_info bytesReceived/bytesSent (%BYTES_RECEIVED%, %BYTES_SENT%).
      request_size: '11',
      response_size: '22',
      component: 'proxy',
      node_id: NODE,
      zone: '',
      upstream_cluster: 'inbound|9080||',
      'upstream_cluster.name': 'inbound|9080||',
      'http.status_code': '200',
      response_flags: '-',
    });
  });

  it('builds http.url from x-forwarded-proto and x-envoy-original-path, the path cut at 256', () => {
    const { t, exporter } = tracing();
    const long = `/${'a'.repeat(300)}`;
    t.startServerSpan({
      method: 'GET',
      url: '/rewritten',
      scheme: 'https',
      authority: 'reviews:9080',
      port: 9080,
      headers: { 'x-forwarded-proto': 'http', 'x-envoy-original-path': long, 'user-agent': 'curl/8' },
    }).end({ status: 200 });
    const a = exporter.getFinishedSpans()[0]!.attributes;
    expect(a['http.url']).toBe(`http://reviews:9080${long.slice(0, 256)}`);
    expect(a['user_agent']).toBe('curl/8');
  });

  it('tags a CLIENT span as the egress listener does, the app as its peer', () => {
    const { t, exporter } = tracing();
    const span = t.startClientSpan({
      method: 'POST',
      url: 'http://ratings:9080/ratings/0',
      headers: { 'user-agent': 'node', 'x-envoy-downstream-service-cluster': 'reviews' },
    });
    span.end({
      status: 201,
      upstreamCluster: 'outbound|9080||ratings.default.svc.cluster.local',
      responseBytes: 22,
      entry: entry({}),
    });
    expect(exporter.getFinishedSpans()[0]!.attributes).toMatchObject({
      'http.url': 'http://ratings:9080/ratings/0',
      'http.method': 'POST',
      'http.protocol': 'HTTP/1.1',
      downstream_cluster: 'reviews',
      user_agent: 'node',
      'peer.address': '10.0.0.5',
      request_size: '11',
      response_size: '22',
      component: 'proxy',
      node_id: NODE,
      'http.status_code': '201',
    });
  });

  it("tags zone with the proxy's locality zone (Envoy local_info zoneName, from the node's locality)", () => {
    const { t, exporter } = tracing(undefined, { ...REVIEWS_V2, locality: 'us-east1/us-east1-b/rack1' });
    t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers: {} }).end({ status: 200 });
    expect(exporter.getFinishedSpans()[0]!.attributes['zone']).toBe('us-east1-b');
  });

  it('keeps node_id, zone and component when enableIstioTags is false (only istio.* go)', () => {
    const resolved = resolveTracing(
      [
        {
          resource: {
            kind: 'Telemetry',
            metadata: { name: 't', namespace: 'default' },
            spec: { tracing: [{ enableIstioTags: false, randomSamplingPercentage: 100 }] },
          },
        } as never,
      ],
      { ...DEFAULT_MESH_CONFIG },
      {},
    );
    const { t, exporter } = tracing(resolved);
    t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers: {} }).end({ status: 200 });
    const a = exporter.getFinishedSpans()[0]!.attributes;
    expect(a['istio.canonical_service']).toBeUndefined();
    expect([a['node_id'], a['component'], a['zone']]).toEqual([NODE, 'proxy', '']);
  });
});
