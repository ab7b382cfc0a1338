import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { createAccessLog, createAccessLogFromSpec } from '../../src/telemetry/access-log/access-log.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log/entry.js';
import { createLineSink } from '../../src/telemetry/access-log/sink.js';
import { compileFilter } from '../../src/telemetry/access-log/filter.js';
import { resolveAccessLogs } from '../../src/telemetry/config/access-log-config.js';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { useTmpDir } from '../helpers/tmp.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

/** A 503 UO from productpage's outbound call to reviews, as Envoy would log it. */
const ENTRY: AccessLogEntry = {
  startTime: Date.UTC(2026, 1, 24, 14, 23, 15, 456),
  method: 'GET',
  path: '/reviews/0?x=1',
  authority: 'reviews:9080',
  protocol: 'HTTP/1.1',
  responseCode: 503,
  responseFlags: ['UO'],
  responseCodeDetails: 'upstream_reset_before_response_started{overflow}',
  connectionTerminationDetails: null,
  upstreamTransportFailureReason: null,
  bytesReceived: 0,
  bytesSent: 81,
  durationMs: 2.9,
  requestHeaders: {
    'user-agent': 'curl/8.5.0',
    'x-request-id': 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
  },
  responseHeaders: { 'x-envoy-overloaded': 'true' },
  upstreamHost: '10.244.3.12:9080',
  upstreamCluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
  upstreamLocalAddress: null,
  downstreamLocalAddress: '10.96.45.67:9080',
  downstreamRemoteAddress: '10.244.1.5:33210',
  requestedServerName: null,
  routeName: 'default',
};

describe('createAccessLog', () => {
  it("prints Istio's default TEXT line with - for unset values", () => {
    const log = createAccessLog({ file: '/dev/stdout' });
    expect(log.format(ENTRY)).toBe(
      '[2026-02-24T14:23:15.456Z] "GET /reviews/0?x=1 HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 0 81 2 - "-" "curl/8.5.0" "f47ac10b-58cc-4372-a567-0e02b2c3d479" "reviews:9080" "10.244.3.12:9080" outbound|9080|v2|reviews.default.svc.cluster.local - 10.96.45.67:9080 10.244.1.5:33210 - default\n',
    );
    expect(log.problems).toEqual([]);
  });

  it("prints Istio's JSON keys, sorted, with typed numbers and null for unset values", () => {
    const log = createAccessLog({ file: '/dev/stdout', encoding: 'JSON' });
    const line = log.format({ ...ENTRY, responseHeaders: { 'x-envoy-upstream-service-time': '1' } });
    expect(line).toBe(
      '{"authority":"reviews:9080","bytes_received":0,"bytes_sent":81,"connection_termination_details":null,' +
        '"downstream_local_address":"10.96.45.67:9080","downstream_remote_address":"10.244.1.5:33210","duration":2,' +
        '"method":"GET","path":"/reviews/0?x=1","protocol":"HTTP/1.1","request_id":"f47ac10b-58cc-4372-a567-0e02b2c3d479",' +
        '"requested_server_name":null,"response_code":503,"response_code_details":"upstream_reset_before_response_started{overflow}",' +
        '"response_flags":"UO","route_name":"default","start_time":"2026-02-24T14:23:15.456Z",' +
        '"upstream_cluster":"outbound|9080|v2|reviews.default.svc.cluster.local","upstream_host":"10.244.3.12:9080",' +
        '"upstream_local_address":null,"upstream_service_time":"1","upstream_transport_failure_reason":null,' +
        '"user_agent":"curl/8.5.0","x_forwarded_for":null}\n',
    );
  });

  it('applies a custom TEXT format with alternatives, max length, START_TIME patterns and a newline added', () => {
    const log = createAccessLog({
      file: '/dev/stdout',
      format:
        '%START_TIME(%Y/%m/%d %H:%M:%S.%3f)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH):8% %REQ_WITHOUT_QUERY(:PATH)% %RESP(X-ENVOY-OVERLOADED)% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %NOPE%',
    });
    expect(
      log.format({ ...ENTRY, attempts: 2, requestHeaders: { 'x-envoy-original-path': '/original/path' } }),
    ).toBe('2026/02/24 14:23:15.456 /origina /reviews/0 true 2 10.244.1.5 -\n');
    expect(log.problems.map((p) => p.operator)).toEqual(['%NOPE%']);
  });

  it('applies a custom JSON format from meshConfig text and falls back to the defaults for a non-object', () => {
    const custom = createAccessLog({
      file: '/dev/stdout',
      encoding: 'JSON',
      format:
        '{"code":"%RESPONSE_CODE%","line":"%REQ(:METHOD)% %REQ(:PATH)%","nested":{"flags":"%RESPONSE_FLAGS%"}}',
    });
    expect(custom.format(ENTRY)).toBe('{"code":503,"line":"GET /reviews/0?x=1","nested":{"flags":"UO"}}\n');
    const fallback = createAccessLog({ file: '/dev/stdout', encoding: 'JSON', format: '[]' });
    expect(Object.keys(JSON.parse(fallback.format(ENTRY)) as object)).toHaveLength(24);
    expect(fallback.problems).toHaveLength(1);
  });

  it('writes one line per request to a file and keeps only what the filter accepts', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'access.log');
    const log = createAccessLog({ file, filter: 'response.code >= 500 && request.method == "GET"' });
    log.log(ENTRY);
    log.log({ ...ENTRY, responseCode: 200, responseFlags: [] });
    log.log({ ...ENTRY, method: 'POST' });
    await log.close();
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"GET /reviews/0?x=1 HTTP/1.1" 503 UO');
  });
  const tmp = useTmpDir();

  it('drops the line when the filter reads a header the request lacks, unless || or && decides without it', () => {
    // CEL: a missing map key is an error, which Envoy's CEL filter treats as "do not log"
    // (access_loggers/filters/cel/cel.cc); `error || true` is true, `error && false` false.
    const keeps = (expression: string, headers: Record<string, string>) =>
      compileFilter(expression)!({ ...ENTRY, requestHeaders: headers });
    expect(keeps("request.headers['x-debug'] != 'off'", {})).toBe(false);
    expect(keeps("request.headers['x-debug'] != 'off'", { 'x-debug': 'on' })).toBe(true);
    expect(keeps("request.headers['x-debug'] == 'on' || response.code >= 500", {})).toBe(true);
    expect(keeps("request.headers['x-debug'] == 'on' && response.code >= 500", {})).toBe(false);
    expect(keeps("response.code < 500 && request.headers['x-debug'] == 'on'", {})).toBe(false);
    expect(keeps("!(request.headers['x-debug'] == 'on')", {})).toBe(false);
  });

  it("evaluates full CEL as Envoy's access-log filter does: methods, in, has(), ternary, flags bitmask, durations", () => {
    // envoy source/extensions/access_loggers/filters/cel/cel.cc: log only when the result is
    // the bool true; an error or any other type does not log.
    const keeps = (expression: string, entry: Partial<AccessLogEntry> = {}) => {
      const f = compileFilter(expression);
      expect(f, expression).not.toBeNull();
      return f!({ ...ENTRY, ...entry });
    };
    expect(keeps("request.url_path.startsWith('/reviews/')")).toBe(true);
    expect(keeps("request.path.matches('^/reviews/[0-9]+')")).toBe(true);
    expect(keeps("request.headers['user-agent'].contains('curl')")).toBe(true);
    expect(keeps('response.code in [502, 503, 504]')).toBe(true);
    expect(keeps('has(request.headers.authorization)')).toBe(false);
    expect(keeps("'x-request-id' in request.headers")).toBe(true);
    expect(keeps("(response.code >= 500 ? 'err' : 'ok') == 'err'")).toBe(true);
    // response.flags is Envoy's legacy bitmask: UpstreamOverflow is 0x80.
    expect(keeps('response.flags == 128')).toBe(true);
    expect(keeps('response.flags == 0', { responseFlags: [] })).toBe(true);
    expect(keeps("request.duration > duration('2ms')")).toBe(true);
    expect(keeps("request.duration > duration('1s')")).toBe(false);
    expect(
      keeps(
        "upstream.address == '10.244.3.12:9080' && xds.cluster_name.endsWith('reviews.default.svc.cluster.local')",
      ),
    ).toBe(true);
    expect(keeps('size(request.headers) >= 2')).toBe(true);
    // Not a bool: not logged. A string + finds no overload in Envoy's builder (string concat off).
    expect(keeps('response.code')).toBe(false);
    expect(keeps("request.method + '' == 'GET'")).toBe(false);
    // No response was sent (code 0 here): response.code is absent, an error, not logged.
    expect(keeps('response.code != 200', { responseCode: 0 })).toBe(false);
  });

  it('logs every request and reports a filter Envoy would refuse: syntax errors, string(), comprehensions', () => {
    for (const expression of [
      'response.code >=',
      'string(response.code) == "503"',
      "request.headers.exists(h, h == 'x')",
    ]) {
      const log = createAccessLog({ file: '/dev/null', filter: expression });
      expect(
        log.problems.map((p) => p.operator),
        expression,
      ).toEqual([expression]);
      expect(log.problems[0]?.message, expression).toMatch(/Envoy rejects .*every request is logged/);
    }
  });

  it('is off when the file is empty and never throws on a malformed entry', () => {
    const off = createAccessLog({ file: '' });
    expect(off.enabled).toBe(false);
    const on = createAccessLog({ file: '/dev/null' });
    expect(() => on.log({} as AccessLogEntry)).not.toThrow();
  });
});

describe('createLineSink', () => {
  it('batches lines into one write per event-loop turn', async () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const sink = createLineSink('ignored', { stream });
    sink.write('a\n');
    sink.write('b\n');
    expect(chunks).toEqual([]);
    await sink.flush();
    expect(chunks).toEqual(['a\nb\n']);
  });

  it('drops and counts lines beyond the buffer cap while the stream is backed up', async () => {
    const stream = new PassThrough({ highWaterMark: 4 });
    const sink = createLineSink('ignored', { stream, maxBufferBytes: 12 });
    sink.write('0123456789\n');
    await new Promise((r) => setImmediate(r));
    sink.write('abcd\n');
    sink.write('efgh\n');
    sink.write('ijkl\n');
    expect(sink.dropped).toBe(1);
    let out = '';
    stream.on('data', (c: Buffer) => (out += c.toString()));
    await sink.flush();
    expect(out).toBe('0123456789\nabcd\nefgh\n');
    expect(sink.dropped).toBe(1);
  });
});

describe('resolveAccessLogs', () => {
  const mesh = (over: Partial<MeshConfig> = {}): MeshConfig => ({ ...DEFAULT_MESH_CONFIG, ...over });
  const tel = (ns: string, name: string, body: string) =>
    `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${body}
---
`;

  it('uses meshConfig accessLogFile when no Telemetry configures access logging', () => {
    const none = resolveAccessLogs([], mesh(), 'SERVER');
    expect(none.logs).toEqual([]);
    const on = resolveAccessLogs(
      [],
      mesh({ accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' }),
      'SERVER',
    );
    expect(on.logs.map((l) => [l.provider, l.path, l.encoding])).toEqual([
      ['meshConfig', '/dev/stdout', 'JSON'],
    ]);
  });

  it('turns on the built-in envoy provider mesh-wide and lets a workload Telemetry disable it for the server only', () => {
    const snap = snapshotOf(
      tel('istio-system', 'mesh-default', '  accessLogging:\n  - providers: [{ name: envoy }]\n') +
        tel(
          'default',
          'pp',
          '  selector: { matchLabels: { app: productpage } }\n  accessLogging:\n  - match: { mode: SERVER }\n    disabled: true\n',
        ),
    );
    const scoped = applicableTelemetries(snap, PRODUCTPAGE);
    expect(scoped.map((s) => s.level)).toEqual(['root', 'workload']);
    const m = mesh({ accessLogEncoding: 'JSON' });
    expect(resolveAccessLogs(scoped, m, 'CLIENT').logs.map((l) => [l.provider, l.path, l.encoding])).toEqual([
      ['envoy', '/dev/stdout', 'JSON'],
    ]);
    expect(resolveAccessLogs(scoped, m, 'SERVER').logs).toEqual([]);
  });

  it('reads an envoyFileAccessLog provider with its own format and the filter, and an envoyOtelAls provider as an OTel log', () => {
    const snap = snapshotOf(
      tel(
        'default',
        'ns',
        "  accessLogging:\n  - providers: [{ name: file-json }, { name: otel }]\n    filter: { expression: 'response.code >= 400' }\n",
      ),
    );
    const m = mesh({
      extensionProviders: [
        {
          name: 'file-json',
          type: 'envoyFileAccessLog',
          config: { path: '/tmp/a.log', logFormat: { labels: { code: '%RESPONSE_CODE%' } } },
        },
        { name: 'otel', type: 'envoyOtelAls', config: { service: 'otel.svc', port: 4317 } },
      ],
    });
    const r = resolveAccessLogs(applicableTelemetries(snap, PRODUCTPAGE), m, 'SERVER');
    expect(r.logs).toEqual([
      {
        provider: 'file-json',
        path: '/tmp/a.log',
        encoding: 'JSON',
        text: '',
        json: { code: '%RESPONSE_CODE%' },
        filter: 'response.code >= 400',
        omitEmptyValues: false,
      },
    ]);
    // telemetry_logging.go openTelemetryLog: istiod builds Envoy's OpenTelemetry access
    // logger for it, with the same filter.
    expect(r.unsupported).toEqual([]);
    expect(r.otel.map((o) => [o.provider, o.service, o.port, o.filter])).toEqual([
      ['otel', 'otel.svc', 4317, 'response.code >= 400'],
    ]);
    const log = createAccessLogFromSpec(r.logs[0]!);
    expect(log.format(ENTRY)).toBe('{"code":503}\n');
  });

  it('turns on meshConfig defaultProviders.accessLogging with no Telemetry, and a Telemetry entry without providers inherits it', () => {
    const m = mesh({
      accessLogFile: '/tmp/legacy.log',
      defaultProviders: { tracing: [], metrics: ['prometheus'], accessLogging: ['envoy'] },
    });
    // The default provider wins over the legacy accessLogFile (istio telemetry.go AccessLogging).
    expect(resolveAccessLogs([], m, 'SERVER').logs.map((l) => [l.provider, l.path])).toEqual([
      ['envoy', '/dev/stdout'],
    ]);
    const snap = snapshotOf(
      tel(
        'istio-system',
        'mesh-default',
        "  accessLogging:\n  - filter: { expression: 'response.code >= 500' }\n",
      ),
    );
    const r = resolveAccessLogs(applicableTelemetries(snap, PRODUCTPAGE), m, 'CLIENT');
    // istio mergeLogs records a filter only for the providers an entry names itself, so
    // an entry that inherits the default provider does not pass its filter on.
    expect(r.logs.map((l) => [l.provider, l.filter])).toEqual([['envoy', null]]);
  });

  it('names the providers in scope per direction: a CLIENT-only entry leaves the SERVER log as the root set it', () => {
    const snap = snapshotOf(
      tel('istio-system', 'mesh-default', '  accessLogging:\n  - providers: [{ name: envoy }]\n') +
        tel(
          'default',
          'pp',
          '  selector: { matchLabels: { app: productpage } }\n  accessLogging:\n  - match: { mode: CLIENT }\n    providers: [{ name: file-json }]\n',
        ),
    );
    const m = mesh({
      extensionProviders: [{ name: 'file-json', type: 'envoyFileAccessLog', config: { path: '/tmp/c.log' } }],
    });
    const scoped = applicableTelemetries(snap, PRODUCTPAGE);
    // istio pilot/pkg/model/telemetry.go mergeLogs skips entries of the other mode when it
    // collects the providers in scope.
    expect(resolveAccessLogs(scoped, m, 'SERVER').logs.map((l) => l.provider)).toEqual(['envoy']);
    expect(resolveAccessLogs(scoped, m, 'CLIENT').logs.map((l) => l.provider)).toEqual(['file-json']);
  });
});
