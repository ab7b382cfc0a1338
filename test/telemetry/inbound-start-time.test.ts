import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/fastify/src/index.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';

// Envoy's %START_TIME% is when the request started (the first byte of the downstream
// request), not when the line was written; Istio's JSON log prints it as `start_time`.
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe("the inbound access log's start time", () => {
  it('is when the request arrived, before a slow handler ran, with the duration beside it', async () => {
    const lines: string[] = [];
    const mesh = await createMesh({
      workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
      meshConfig: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' },
      telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
    });
    closers.push(() => mesh.close());
    const app = Fastify();
    await app.register(meshlet, { mesh });
    let handlerAt = 0;
    app.get('/slow', async () => {
      handlerAt = Date.now();
      await new Promise((r) => setTimeout(r, 120));
      return 'ok';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const sent = Date.now();
    const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/slow`);
    expect(res.status).toBe(200);
    await linesBeyond(lines, 0);
    const entry = JSON.parse(lines[0]!) as { start_time: string; duration: number };
    const start = Date.parse(entry.start_time);
    // One millisecond either way for rounding the monotonic duration against the wall clock.
    expect(start).toBeGreaterThanOrEqual(sent - 1);
    expect(start).toBeLessThanOrEqual(handlerAt + 1);
    expect(entry.duration).toBeGreaterThanOrEqual(115);
  });
});
