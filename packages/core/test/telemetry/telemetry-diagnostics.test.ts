import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';

// What istiod hands Envoy from a Telemetry, meshlet evaluates in-process: the
// tagOverrides values go to the stats filter as CEL (model/telemetry.go
// generateStatsConfig, Dimensions), filter.expression to Envoy's CEL access-log filter
// (networking/core/accesslog.go buildAccessLogFilterFromTelemetry), a customMetric name
// to the stats filter as written. Whatever meshlet cannot evaluate or match is reported
// when the config loads, with its file and line, never silently ignored.
describe('Telemetry diagnostics', () => {
  it('warns, with file and line, for tag values, filters and customMetric names meshlet cannot apply', () => {
    // size() on a map is a cel-cpp builtin, evaluated since meshlet runs full CEL: no warning for it.
    const snap = loadConfigText(
      `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        ok_header: { value: "request.headers['x-user']" }
        weird: { value: "filter_state['wasm.upstream_peer']" }
        bad-name: { value: "'x'" }
        gone: { operation: REMOVE }
        ok_size: { value: "size(request.headers) > 2" }
        broken: { value: "request.method ==" }
    - match: { customMetric: requests_total }
      disabled: true
    - match: { customMetric: my_custom }
      disabled: true
  accessLogging:
  - providers: [{ name: envoy }]
    filter: { expression: "response.code >= 400" }
  - providers: [{ name: envoy }]
    filter: { expression: "request.headers.exists(h, h == 'x')" }
`,
      { file: 'telemetry.yaml' },
    );
    const rows = snap.diagnostics.map((d) => [d.level, d.code, d.file, d.line, d.path, d.message]);
    expect(rows).toEqual([
      [
        'Warning',
        'MESHLET0004',
        'telemetry.yaml',
        10,
        'spec.metrics[0].overrides[0].tagOverrides.weird.value',
        expect.stringMatching(/cannot evaluate the CEL expression .*filter_state.*"unknown"/),
      ],
      [
        'Warning',
        'MESHLET0004',
        'telemetry.yaml',
        11,
        'spec.metrics[0].overrides[0].tagOverrides["bad-name"]',
        expect.stringMatching(/"bad-name" is not a valid Prometheus label name/),
      ],
      [
        'Warning',
        'MESHLET0004',
        'telemetry.yaml',
        14,
        'spec.metrics[0].overrides[0].tagOverrides.broken.value',
        // istio_stats.cc: a value that fails to parse drops the tag.
        expect.stringMatching(/"request.method ==" does not parse.*drops this tag/),
      ],
      [
        'Warning',
        'MESHLET0004',
        'telemetry.yaml',
        17,
        'spec.metrics[0].overrides[2].match.customMetric',
        expect.stringMatching(/"my_custom" names no metric meshlet records.*requests_total/),
      ],
      [
        'Warning',
        'MESHLET0004',
        'telemetry.yaml',
        23,
        'spec.accessLogging[1].filter.expression',
        // Envoy's builder disables comprehensions (evaluator.cc createBuilder), so its
        // planner refuses this expression and Envoy rejects the listener.
        expect.stringMatching(/Envoy rejects .*comprehensions.*every request is logged/),
      ],
    ]);
  });

  it('warns at load for access-log format operators meshlet cannot print, in meshConfig and in providers', () => {
    // Each prints "-" in meshlet where Envoy prints a value (or refuses the format); the
    // user learns it when the config loads, not from a line of dashes.
    const snap = loadConfigText(
      `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
    accessLogFile: /dev/stdout
    accessLogFormat: "%UPSTREAM_WIRE_BYTES_SENT% %RESPONSE_CODE%\\n"
    extensionProviders:
    - name: file
      envoyFileAccessLog:
        path: /dev/stdout
        logFormat: { labels: { code: "%RESPONSE_CODE%", pool: "%UPSTREAM_CONNECTION_POOL_READY_DURATION%" } }
    - name: otel
      envoyOtelAls:
        service: collector
        port: 4317
        logFormat: { text: "%UPSTREAM_WIRE_BYTES_RECEIVED% %REQ(:PATH)%", labels: { ok: "%RESPONSE_CODE%" } }
`,
      { file: 'mesh.yaml' },
    );
    expect(snap.diagnostics.map((d) => [d.level, d.path, d.message])).toEqual([
      [
        'Warning',
        'accessLogFormat',
        expect.stringMatching(/%UPSTREAM_WIRE_BYTES_SENT% is not supported by meshlet; it prints "-"/),
      ],
      [
        'Warning',
        'extensionProviders[0].envoyFileAccessLog.logFormat.labels',
        expect.stringMatching(/%UPSTREAM_CONNECTION_POOL_READY_DURATION% is not supported by meshlet/),
      ],
      [
        'Warning',
        'extensionProviders[1].envoyOtelAls.logFormat.text',
        expect.stringMatching(/%UPSTREAM_WIRE_BYTES_RECEIVED% is not supported by meshlet/),
      ],
    ]);
  });
});
