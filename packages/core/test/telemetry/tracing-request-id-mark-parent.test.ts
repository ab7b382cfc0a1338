import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { REVIEWS_V2 } from './helpers.js';

// Envoy's connection manager applies its x-request-id trace decision (and writes the trace
// reason into the UUID) whether or not the request carries a trace context
// (source/common/http/conn_manager_utility.cc mutateTracingRequestHeader); the tracer then
// follows the parent's sampled flag for the span itself.

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';

function start(headers: Record<string, string>, percent: number) {
  const t = createMeshTracing({
    workload: REVIEWS_V2,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: percent },
    otlp: false,
    env: {},
  });
  open.push(t);
  return t.startServerSpan({
    method: 'GET',
    url: '/',
    scheme: 'http',
    authority: 'reviews:9080',
    port: 9080,
    headers,
  });
}

describe('x-request-id trace mark with an incoming trace context', () => {
  it("marks an id the random draw selects even when a traceparent came, and keeps the parent's flag", () => {
    // 0x000009c3 % 10000 = 2499 < 25 % in ten-thousandths.
    const s = start({ traceparent: TRACEPARENT, 'x-request-id': '000009c3-0000-4000-8000-000000000000' }, 25);
    expect(s.requestId).toBe('000009c3-0000-b000-8000-000000000000');
    expect(s.span?.spanContext().traceFlags).toBe(0);
    // One the draw rejects stays as it came.
    const rejected = '000009c4-0000-4000-8000-000000000000';
    expect(start({ traceparent: TRACEPARENT, 'x-request-id': rejected }, 25).requestId).toBe(rejected);
  });

  it('marks a forced one with x-client-trace-id as client-forced', () => {
    const s = start(
      {
        traceparent: TRACEPARENT,
        'x-request-id': 'ffffffff-0000-4000-8000-000000000000',
        'x-client-trace-id': 'c1',
      },
      0,
    );
    expect(s.requestId).toBe('ffffffff-0000-c000-8000-000000000000');
  });
});
