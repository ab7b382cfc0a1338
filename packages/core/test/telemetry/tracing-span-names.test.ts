import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import {
  createMeshTracing,
  type MeshTracing,
  type MeshTracingOptions,
} from '../../src/telemetry/tracing/mesh-tracing.js';
import { resolveTracing } from '../../src/telemetry/config/tracing-config.js';
import { REVIEWS_V2 } from './helpers.js';

// Span names are Envoy's operation names: the matched route's decorator, which istiod sets
// to `<host>:<port>/*` for a Service's default route (pilot networking/telemetry
// TraceOperation; route.go GetRouteOperation for VirtualService routes), else `ingress` /
// `egress <authority>` (envoy source/common/tracing/tracer_impl.cc startSpan). On ingress an
// `x-envoy-decorator-operation` request header from the caller's sidecar wins
// (source/common/http/conn_manager_impl.cc traceRequest).

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

function tracing(over: Partial<MeshTracingOptions> = {}) {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: REVIEWS_V2,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
    ...over,
  });
  open.push(t);
  return { t, names: () => exporter.getFinishedSpans().map((s) => s.name) };
}

const inbound = (headers: Record<string, string> = {}, port = 9080) => ({
  method: 'GET',
  url: '/reviews/0',
  scheme: 'http' as const,
  authority: 'reviews:9080',
  port,
  headers,
});

describe('SERVER span names', () => {
  it("is the inbound route's operation: <service host>:<port>/*", () => {
    let host = 'reviews-svc.default.svc.cluster.local';
    const { t, names } = tracing({
      inboundService: () => ({ host, name: 'reviews-svc', namespace: 'default' }),
    });
    t.startServerSpan(inbound()).end({ status: 200, route: '/reviews/:id' });
    // A reload that gives the port another service renames the next span.
    host = 'reviews-b.default.svc.cluster.local';
    t.startServerSpan(inbound()).end({ status: 200 });
    // The inbound passthrough chain (no Service on the port) has no host: `:<port>/*`.
    const p = tracing({
      inboundService: () => ({ host: 'reviews', name: 'InboundPassthroughCluster', namespace: 'default' }),
    });
    p.t.startServerSpan(inbound({}, 8080)).end({ status: 200 });
    expect([...names(), ...p.names()]).toEqual([
      'reviews-svc.default.svc.cluster.local:9080/*',
      'reviews-b.default.svc.cluster.local:9080/*',
      ':8080/*',
    ]);
  });

  it("defaults to the Service named for the workload's canonical service", () => {
    const { t, names } = tracing();
    t.startServerSpan(inbound({}, 9081)).end({ status: 200 });
    expect(names()).toEqual(['reviews.default.svc.cluster.local:9081/*']);
  });

  it("takes the caller's x-envoy-decorator-operation when it is not empty", () => {
    const { t, names } = tracing();
    t.startServerSpan(
      inbound({ 'x-envoy-decorator-operation': 'reviews.default.svc.cluster.local:9080/reviews*' }),
    ).end({ status: 200 });
    t.startServerSpan(inbound({ 'x-envoy-decorator-operation': '' })).end({ status: 200 });
    expect(names()).toEqual([
      'reviews.default.svc.cluster.local:9080/reviews*',
      'reviews.default.svc.cluster.local:9080/*',
    ]);
  });
});

describe('CLIENT span names', () => {
  const call = (
    t: MeshTracing,
    url: string,
    end: Parameters<ReturnType<MeshTracing['startClientSpan']>['end']>[0],
    headers: Record<string, string> = {},
  ) => t.startClientSpan({ method: 'GET', url, headers }).end(end);

  it("is the default route's operation of the cluster routing chose", () => {
    const { t, names } = tracing();
    call(t, 'http://ratings:9080/ratings/0', {
      status: 200,
      upstreamCluster: 'outbound|9080|v1|ratings.default.svc.cluster.local',
    });
    // A name the caller gave (the ext_authz check span) is kept.
    t.startClientSpan({
      method: 'POST',
      url: 'http://authz:9000/check',
      headers: {},
      name: 'async outbound|9000||authz.default.svc.cluster.local egress',
    }).end({ status: 200, upstreamCluster: 'outbound|9000||authz.default.svc.cluster.local' });
    expect(names()).toEqual([
      'ratings.default.svc.cluster.local:9080/*',
      'async outbound|9000||authz.default.svc.cluster.local egress',
    ]);
  });

  it('is the route operation when the router gives one', () => {
    const { t, names } = tracing();
    call(t, 'http://ratings:9080/ratings/0', {
      status: 200,
      upstreamCluster: 'outbound|9080|v1|ratings.default.svc.cluster.local',
      operation: 'ratings.default.svc.cluster.local:9080/ratings*',
    });
    expect(names()).toEqual(['ratings.default.svc.cluster.local:9080/ratings*']);
  });

  it('is egress <authority> for a route without decorator (passthrough, blackhole, no route)', () => {
    const { t, names } = tracing();
    call(t, 'http://httpbin.org/get', { status: 200, upstreamCluster: 'PassthroughCluster' });
    call(t, 'http://10.1.2.3:8080/x', { status: 0 }, { host: 'legacy:8080' });
    expect(names()).toEqual(['egress httpbin.org', 'egress legacy:8080']);
  });

  it('is the bare <authority> there when the outbound spans go to a zipkin provider', () => {
    const meshConfig: MeshConfig = {
      ...DEFAULT_MESH_CONFIG,
      tracingSampling: 100,
      extensionProviders: [
        { name: 'zipkin', type: 'zipkin', config: { service: 'zipkin.istio-system', port: 9411 } },
      ],
      defaultProviders: { tracing: ['zipkin'], metrics: [], accessLogging: [] },
    };
    const resolved = resolveTracing([], meshConfig, {});
    expect(resolved.client.export?.protocol).toBe('zipkin');
    const { t, names } = tracing({ meshConfig, tracing: resolved });
    call(t, 'http://httpbin.org/get', { status: 200, upstreamCluster: 'PassthroughCluster' });
    call(t, 'http://ratings:9080/', {
      status: 200,
      upstreamCluster: 'outbound|9080||ratings.default.svc.cluster.local',
    });
    expect(names()).toEqual(['httpbin.org', 'ratings.default.svc.cluster.local:9080/*']);
  });
});
