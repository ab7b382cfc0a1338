import { request } from 'node:http';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../packages/core/src/compile/workload.js';
import type { MeshTelemetry } from '../../packages/core/src/telemetry/mesh-telemetry.js';
import {
  compile,
  inboundHandle,
  outboundClient,
  snapshotOf,
  startService,
  telemetryFor,
  type Framework,
  type Route,
} from './support/services.js';

const workload = (app: string): WorkloadIdentity => ({
  name: `${app}-v1`,
  namespace: 'default',
  serviceAccount: app,
  labels: { app, version: 'v1' },
});

/** A plain client with no trace headers and no x-request-id: the trace starts at A. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end();
  });
}

interface Hop {
  readonly name: 'a' | 'b' | 'c';
  readonly framework: Framework;
  /** The next hop's name; null for the last. */
  readonly next: 'b' | 'c' | null;
}

const HOPS: readonly Hop[] = [
  { name: 'a', framework: 'fastify', next: 'b' },
  { name: 'b', framework: 'express', next: 'c' },
  { name: 'c', framework: 'fastify', next: null },
];

describe('a trace crossing three services on loopback (A fastify → B express → C fastify)', () => {
  const exporter = new InMemorySpanExporter();
  const seenRequestIds: Record<string, string | undefined> = {};
  const closers: (() => Promise<void>)[] = [];
  const telemetries: MeshTelemetry[] = [];
  let response = { status: 0, body: '' };

  beforeAll(async () => {
    const ports: Record<string, number> = {};
    // Start from the last hop so each service knows the next one's port.
    for (const hop of [...HOPS].reverse()) {
      const w = workload(hop.name);
      const next = hop.next;
      const yaml =
        next === null
          ? 'apiVersion: v1\nkind: Namespace\nmetadata: { name: default }\n'
          : `apiVersion: v1
kind: Service
metadata: { name: ${next}, namespace: default }
spec:
  ports: [{ port: ${ports[next]}, name: http }]
  selector: { app: ${next} }
`;
      const snap = snapshotOf(yaml);
      const { telemetry } = telemetryFor(w, snap, [new SimpleSpanProcessor(exporter)]);
      telemetries.push(telemetry);
      const plan = compile(
        snap,
        w,
        next === null
          ? {}
          : { [next]: [{ address: '127.0.0.1', port: ports[next]!, labels: workload(next).labels }] },
      );
      const out = outboundClient(() => plan, telemetry);
      const route: Route = async (headers) => {
        seenRequestIds[hop.name] = headers['x-request-id'] as string | undefined;
        if (next === null) return { status: 200, body: 'c' };
        // No trace code here: the mesh continues the inbound request's trace.
        const res = await out.client.fetch(`http://${next}:${ports[next]}/hop`);
        return { status: res.status, body: `${hop.name}>${await res.text()}` };
      };
      const service = await startService(hop.framework, inboundHandle(plan, telemetry), { '/hop': route });
      ports[hop.name] = service.port;
      closers.push(
        () => service.close(),
        () => out.close(),
      );
    }
    response = await get(ports['a']!, '/hop');
    await Promise.all(telemetries.map((t) => t.tracing.forceFlush()));
  });

  afterAll(async () => {
    for (const close of closers) await close();
    await Promise.all(telemetries.map((t) => t.close()));
  });

  const spans = () => exporter.getFinishedSpans();
  const of = (service: string, kind: SpanKind): ReadableSpan => {
    const found = spans().filter(
      (s) => s.kind === kind && s.attributes['istio.canonical_service'] === service,
    );
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

  it('answers through all three hops', () => {
    expect(response).toEqual({ status: 200, body: 'a>b>c' });
  });

  it('records one trace: a SERVER span per hop and a CLIENT span per outbound call', () => {
    expect(spans()).toHaveLength(5);
    expect(new Set(spans().map((s) => s.spanContext().traceId)).size).toBe(1);
  });

  it('links each span to its parent: server → client → next server', () => {
    const aServer = of('a', SpanKind.SERVER);
    const aClient = of('a', SpanKind.CLIENT);
    const bServer = of('b', SpanKind.SERVER);
    const bClient = of('b', SpanKind.CLIENT);
    const cServer = of('c', SpanKind.SERVER);
    expect(parentOf(aServer)).toBeUndefined();
    expect(parentOf(aClient)).toBe(aServer.spanContext().spanId);
    expect(parentOf(bServer)).toBe(aClient.spanContext().spanId);
    expect(parentOf(bClient)).toBe(bServer.spanContext().spanId);
    expect(parentOf(cServer)).toBe(bClient.spanContext().spanId);
    expect(aClient.attributes['upstream_cluster']).toMatch(
      /^outbound\|\d+\|\|b\.default\.svc\.cluster\.local$/,
    );
    expect(cServer.attributes['http.response.status_code']).toBe(200);
  });

  it('generates x-request-id at the edge and carries it to every hop and span', () => {
    const id = seenRequestIds['a'];
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(seenRequestIds).toEqual({ a: id, b: id, c: id });
    expect(new Set(spans().map((s) => s.attributes['guid:x-request-id']))).toEqual(new Set([id]));
  });
});
