import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { loggingMesh } from '../access-log/support.js';
import { listenLikeAdapters } from '../mesh-app.js';
import { startOtlpLogsReceiver, type OtlpLogsReceiver } from './otlp-logs-receiver.js';

const cleanup = useCleanup();
const tmp = useTmpDir();
const receivers: OtlpLogsReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(): Promise<OtlpLogsReceiver> {
  const r = await startOtlpLogsReceiver();
  receivers.push(r);
  return r;
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

/** istio.io tasks/observability/logs/otel-provider: an envoyOtelAls provider and a Telemetry using it. */
function otelYaml(port: number, logFormat: string, filter = ''): string {
  return `${istioConfigMap(`extensionProviders:
- name: otel
  envoyOtelAls:
    service: 127.0.0.1
    port: ${port}
${logFormat}`)}apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: otel }]
${filter}`;
}

const get = (port: number, path: string, headers: Record<string, string> = {}): Promise<number> =>
  new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });

async function until<T>(read: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// What Envoy's OpenTelemetry access logger sends for istiod's config (envoy
// source/extensions/access_loggers/open_telemetry/access_log_impl.cc emitLog,
// otlp_log_utils.cc initOtlpMessageRoot; istio pilot/pkg/model/telemetry_logging.go
// buildOpenTelemetryAccessLogConfig with DisableBuiltinLabels).
describe('envoyOtelAls: OTLP/gRPC access logs to a real collector', () => {
  it('sends one LogRecord per request: body and attributes formatted, start time, trace id of a sampled traceparent', async () => {
    const collector = await receiver();
    const yaml = otelYaml(
      collector.port,
      `    logFormat:
      text: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %REQ(X-MISSING)%"
      labels:
        path: "%REQ(:PATH)%"
        code: "%RESPONSE_CODE%"
        ua: "%REQ(USER-AGENT)%"
`,
    );
    // The batcher's flush interval runs on the mesh's clock.
    const clock = createManualClock();
    const { mesh, lines } = await loggingMesh(await tmp(), yaml, { app: 'reviews' }, { clock });
    cleanup.mesh(mesh);
    const port = await listenLikeAdapters(mesh, (_req, res) => {
      res.statusCode = 201;
      res.end('ok');
    });

    const before = Date.now();
    expect(await get(port, '/reviews/1', { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` })).toBe(201);
    const after = Date.now();
    // Batched: sent within Envoy's 1s buffer_flush_interval, without a flush.
    await clock.advance(1000);
    const [record] = await until(() => {
      const r = collector.records();
      return r.length > 0 ? r : undefined;
    }, 3000);

    expect(record!.body).toBe('GET /reviews/1 201 -');
    // Attributes in the sorted label order, each a string.
    expect(record!.attributes).toEqual([
      ['code', '201'],
      ['path', '/reviews/1'],
      ['ua', '-'],
    ]);
    const ms = Number(record!.timeUnixNano! / 1_000_000n);
    expect(ms).toBeGreaterThanOrEqual(before - 1);
    expect(ms).toBeLessThanOrEqual(after);
    expect(record!.traceId).toBe(TRACE_ID);
    // The span id of the active span: the request's SERVER span, a child of the caller's.
    expect(record!.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(record!.spanId).not.toBe(PARENT_SPAN);
    // No severity, observed time or flags: Envoy sets none of them.
    expect(record!.severityNumber ?? 0n).toBe(0n);
    expect(record!.observedTimeUnixNano ?? 0n).toBe(0n);
    expect(record!.flags ?? 0n).toBe(0n);
    // DisableBuiltinLabels: no log_name / zone_name / cluster_name / node_name resource attributes.
    expect(collector.requests[0]!.flatMap((rl) => rl.resourceAttributes)).toEqual([]);
    // Nothing goes to a file log.
    expect(lines).toEqual([]);
  });

  it("uses Istio's text format as the body when logFormat.text is empty, flushes on close, and applies the filter", async () => {
    const collector = await receiver();
    const yaml = otelYaml(
      collector.port,
      '',
      '    filter: { expression: \'request.url_path != "/skip"\' }\n',
    );
    const { mesh } = await loggingMesh(await tmp(), yaml, { app: 'reviews' });
    const port = await listenLikeAdapters(mesh, (_req, res) => {
      res.end('ok');
    });

    expect(await get(port, '/skip', { 'user-agent': 'test-agent' })).toBe(200);
    expect(await get(port, '/kept', { 'user-agent': 'test-agent' })).toBe(200);
    await mesh.close();

    const records = collector.records();
    expect(records).toHaveLength(1);
    const body = records[0]!.body as string;
    // EnvoyTextLogFormat, newline included.
    expect(body).toMatch(
      /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET \/kept HTTP\/1\.1" 200 - via_upstream - "-" 0 2 \d+ \S+ "-" "test-agent" "[^"]+" "127\.0\.0\.1:\d+" "[^"]+" inbound\|\d+\|\| \S+ \S+ \S+ - default\n$/,
    );
    expect(records[0]!.attributes).toEqual([]);
  });

  it('logs outbound mesh.fetch calls too (the CLIENT direction)', async () => {
    const collector = await receiver();
    const app = cleanup.server(createServer((_req, res) => res.end('ok')));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appPort = (app.address() as AddressInfo).port;
    const yaml = otelYaml(
      collector.port,
      `    logFormat:
      text: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%"
`,
    );
    const { mesh } = await loggingMesh(await tmp(), yaml, { app: 'productpage' });
    expect(await (await mesh.fetch(`http://127.0.0.1:${appPort}/out`)).text()).toBe('ok');
    await mesh.close();
    expect(collector.records().map((r) => r.body)).toEqual(['GET /out 200']);
  });

  it('never fails a request when the collector is down, and closes promptly', async () => {
    const down = await startOtlpLogsReceiver();
    const port0 = down.port;
    await down.close();
    const { mesh } = await loggingMesh(await tmp(), otelYaml(port0, ''), { app: 'reviews' });
    const port = await listenLikeAdapters(mesh, (_req, res) => {
      res.end('ok');
    });
    expect(await get(port, '/a')).toBe(200);
    expect(await get(port, '/b')).toBe(200);
    const started = Date.now();
    await mesh.close();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
