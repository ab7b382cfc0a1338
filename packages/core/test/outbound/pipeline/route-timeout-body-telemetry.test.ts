import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import { DEFAULT_MESH_CONFIG } from '../../../src/config/mesh-config.js';
import { createOutboundClient } from '../../../src/outbound/client.js';
import { createMemoryTransport } from '../../../src/outbound/transports/memory-transport.js';
import { createClusterManager } from '../../../src/outbound/upstream/cluster-manager.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../../src/telemetry/mesh-telemetry.js';
import { lineCollector } from '../../helpers/line-collector.js';
import { PRODUCTPAGE, snapshotOf } from '../../telemetry/helpers.js';
import { samples } from '../../telemetry/metrics-support.js';

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: reviews }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews } }]
    timeout: 500ms
`;

const open: MeshTelemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('telemetry of a body cut short by the route timeout', () => {
  // router.cc onResponseTimeout → onUpstreamAbort sets UT and sendLocalReply, with the
  // headers already sent, records details upstream_response_timeout and resets the stream
  // (filter_manager.cc): the response code stays the upstream's.
  it("logs the upstream's status with UT and upstream_response_timeout", async () => {
    const snap = snapshotOf(CONFIG);
    const plan = compilePlan(snap, PRODUCTPAGE, {
      endpoints: { reviews: [{ address: '10.0.1.2', port: 9080, labels: { app: 'reviews' } }] },
    });
    const clock = createManualClock(1_000_000);
    const lines: string[] = [];
    const telemetry = createMeshTelemetry({
      workload: PRODUCTPAGE,
      snapshot: snap,
      meshConfig: { ...DEFAULT_MESH_CONFIG, accessLogFile: '/dev/stdout' },
      registry: new Registry(),
      spanProcessors: [],
      otlp: false,
      env: {},
      clock,
      accessLogSink: { stream: lineCollector(lines) },
    });
    open.push(telemetry);
    const transport = createMemoryTransport({
      '10.0.1.2:9080': () => {
        const body = new PassThrough();
        body.write('part;');
        return { status: 200, body };
      },
    });
    const client = createOutboundClient({
      getPlan: () => plan,
      clusters: createClusterManager({ clock, random: seededRandom(1), onEvent: telemetry.onUpstreamEvent }),
      transport,
      clock,
      random: seededRandom(1),
      telemetry,
    });
    const res = await client.fetch('http://reviews:9080/');
    const read = res.text().catch((e: unknown) => e);
    await clock.advance(500);
    await read;
    await telemetry.accessLog.client.flush();
    expect(lines.join('')).toContain('" 200 UT upstream_response_timeout ');
    const [row] = await samples(telemetry.registry, 'istio_requests_total');
    expect([row?.labels['response_code'], row?.labels['response_flags']]).toEqual(['200', 'UT']);
  });
});
