import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { RouteRequest } from '../../src/compile/plan-types.js';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { OutboundTelemetry } from '../../src/outbound/call-observer.js';
import { newCallState } from '../../src/outbound/call-state.js';
import { parseTarget } from '../../src/outbound/request-input.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../src/telemetry/mesh-telemetry.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import type { OutgoingHeaders } from '../../src/telemetry/tracing/propagation.js';
import { PRODUCTPAGE, REVIEWS_V2, snapshotOf } from './helpers.js';

// `x-envoy-decorator-operation` (envoy source/common/http/conn_manager_impl.cc): with tracing
// configured on the connection manager, traceRequest runs for every request, sampled or not
// (the tracer hands back a span either way), and
// - egress: the route's decorator operation goes on the upstream request (the decorator's
//   `propagate` defaults to true, source/common/router/config_impl.cc DecoratorImpl, and
//   istiod never sets it);
// - ingress: a non-empty operation from the caller names the span, and then none is
//   answered; otherwise encodeHeaders puts the route's operation on the response.
// istiod configures no tracing on the connection manager when it is disabled
// (`disableSpanReporting`, or `enableTracing: false` without Telemetry: pilot/pkg/networking/core/tracing.go).

const DECORATOR = 'x-envoy-decorator-operation';
const mesh = (over: Partial<MeshConfig> = {}): MeshConfig => ({ ...DEFAULT_MESH_CONFIG, ...over });

const open: { shutdown?: () => Promise<void>; close?: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await (o.shutdown?.() ?? o.close?.());
});

function tracing(over: Partial<MeshConfig>, exporter = new InMemorySpanExporter()): MeshTracing {
  const t = createMeshTracing({
    workload: REVIEWS_V2,
    meshConfig: mesh(over),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  return t;
}

const inbound = (headers: Record<string, string> = {}) => ({
  method: 'GET',
  url: '/reviews/1',
  scheme: 'http' as const,
  authority: 'reviews:9080',
  port: 9080,
  headers,
});

const OP = 'reviews.default.svc.cluster.local:9080/*';

describe('x-envoy-decorator-operation on an inbound response', () => {
  it("is the inbound route's operation, sampled or not", () => {
    for (const pct of [100, 0]) {
      const s = tracing({ tracingSampling: pct }).startServerSpan(inbound());
      expect(s.responseOperation).toBe(OP);
      s.end({ status: 200 });
    }
  });

  it('is not answered when the caller named the operation; an empty one does not count', () => {
    const t = tracing({ tracingSampling: 100 });
    expect(t.startServerSpan(inbound({ [DECORATOR]: 'caller-op' })).responseOperation).toBeNull();
    expect(t.startServerSpan(inbound({ [DECORATOR]: '' })).responseOperation).toBe(OP);
    const unsampled = tracing({ tracingSampling: 0 });
    expect(unsampled.startServerSpan(inbound({ [DECORATOR]: 'caller-op' })).responseOperation).toBeNull();
  });

  it('is not answered when tracing is off', () => {
    expect(tracing({ enableTracing: false }).startServerSpan(inbound()).responseOperation).toBeNull();
  });
});

const TRAFFIC = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: reviews }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-route, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /api/ } }]
    route: [{ destination: { host: reviews } }]
`;

function telemetryWith(yaml: string): MeshTelemetry {
  const t = createMeshTelemetry({
    workload: PRODUCTPAGE,
    snapshot: snapshotOf(yaml),
    meshConfig: DEFAULT_MESH_CONFIG,
    registry: new Registry(),
    otlp: false,
    env: {},
    spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
  });
  open.push(t);
  return t;
}

/** The headers an outbound call to `path` goes out with once routing told its telemetry the route. */
function routedHeaders(t: MeshTelemetry, path: string): OutgoingHeaders {
  const plan = compilePlan(snapshotOf(TRAFFIC), PRODUCTPAGE, {});
  const target = parseTarget(`http://reviews:9080${path}`);
  const headers: OutgoingHeaders = {};
  const call = new OutboundTelemetry(t).start(target, 'GET', headers, null);
  const req: RouteRequest = { method: 'GET', scheme: 'http', authority: 'reviews:9080', path, headers };
  const route = plan.outbound.route(plan.outbound.lookup('reviews', 9080)!, req)!;
  call.routed(route, req, headers);
  const state = newCallState(call);
  state.matchedRoute = route;
  state.matchedRequest = req;
  call.failed(state, plan, new Error('done'));
  return headers;
}

describe('x-envoy-decorator-operation on an outbound request', () => {
  it("is the matched route's operation, sampled or not (Istio's default 1 %)", () => {
    const t = telemetryWith('apiVersion: v1\nkind: Namespace\nmetadata: { name: default }\n');
    for (let i = 0; i < 5; i++)
      expect(routedHeaders(t, '/api/1')[DECORATOR]).toBe('reviews.default.svc.cluster.local:9080/api/*');
  });

  it('is not sent when tracing is off (disableSpanReporting)', () => {
    const t = telemetryWith(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ disableSpanReporting: true }]
`);
    expect(routedHeaders(t, '/api/1')[DECORATOR]).toBeUndefined();
  });
});

describe('x-b3-parentspanid on an outbound request', () => {
  it('is absent for a call that starts a trace', () => {
    const t = tracing({ tracingSampling: 100 });
    const headers: OutgoingHeaders = {};
    t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers }).end({ status: 200 });
    expect(headers['x-b3-spanid']).toMatch(/^[0-9a-f]{16}$/);
    expect(headers['x-b3-parentspanid']).toBeUndefined();
    expect(headers['x-b3-sampled']).toBe('1');
  });

  it("is the unsampled inbound request's span id, the one its context carries", () => {
    const t = tracing({ tracingSampling: 0 });
    const server = t.startServerSpan(inbound());
    const headers: OutgoingHeaders = {};
    server.run(() => t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers }));
    expect(headers['x-b3-sampled']).toBe('0');
    expect(headers['x-b3-parentspanid']).toBe(server.span!.spanContext().spanId);
    expect(headers['x-b3-spanid']).not.toBe(headers['x-b3-parentspanid']);
    expect(headers['x-b3-traceid']).toBe(server.span!.spanContext().traceId);
  });

  it('comes with x-b3-sampled, never x-b3-flags, in a debug trace from the caller', () => {
    const t = tracing({ tracingSampling: 0 });
    const server = t.startServerSpan(
      inbound({
        'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736',
        'x-b3-spanid': '00f067aa0ba902b7',
        'x-b3-sampled': '1',
        'x-b3-flags': '1',
      }),
    );
    const headers: OutgoingHeaders = {};
    server.run(() => t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers }));
    expect(headers['x-b3-flags']).toBeUndefined();
    expect(headers['x-b3-sampled']).toBe('1');
    expect(headers['x-b3-parentspanid']).toBe(server.span!.spanContext().spanId);
  });
});
