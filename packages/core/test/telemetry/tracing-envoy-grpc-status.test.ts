import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log/entry.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { PRODUCTPAGE } from './helpers.js';

// Envoy tags grpc.status_code / grpc.message from the response and sets error=true for the
// gRPC codes that are upstream errors (Unknown, DeadlineExceeded, Unimplemented,
// ResourceExhausted, Internal, Unavailable, DataLoss), not for client errors such as NotFound
// (source/common/tracing/http_tracer_impl.cc addGrpcResponseTags).

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

const entryWith = (responseHeaders: Record<string, string>) => () =>
  ({ responseHeaders, requestHeaders: {}, bytesReceived: 0, bytesSent: 0 }) as unknown as AccessLogEntry;

function serverSpanFor(grpcStatus: string) {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: PRODUCTPAGE,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  t.startServerSpan({
    method: 'POST',
    url: '/helloworld.Greeter/SayHello',
    scheme: 'http',
    authority: 'greeter:50051',
    port: 50051,
    headers: { 'content-type': 'application/grpc', 'grpc-timeout': '1S' },
  }).end({ status: 200, entry: entryWith({ 'grpc-status': grpcStatus, 'grpc-message': 'why' }) });
  return exporter.getFinishedSpans()[0]!;
}

describe('gRPC status on spans, as Envoy tags it', () => {
  it('tags grpc.status_code and grpc.message, and an Unavailable reply is an error', () => {
    const s = serverSpanFor('14');
    expect(s.attributes).toMatchObject({
      'grpc.status_code': '14',
      'grpc.message': 'why',
      'grpc.path': '/helloworld.Greeter/SayHello',
      'grpc.authority': 'greeter:50051',
      'grpc.content_type': 'application/grpc',
      'grpc.timeout': '1S',
      error: 'true',
    });
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('a NotFound reply is not an error', () => {
    const s = serverSpanFor('5');
    expect(s.attributes['grpc.status_code']).toBe('5');
    expect(s.attributes['error']).toBeUndefined();
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
  });
});
