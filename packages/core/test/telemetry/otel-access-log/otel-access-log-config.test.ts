import { describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../../src/config/mesh-config.js';
import { resolveAccessLogs } from '../../../src/telemetry/config/access-log-config.js';
import { applicableTelemetries } from '../../../src/telemetry/config/telemetry-scope.js';
import { PRODUCTPAGE, snapshotOf } from '../helpers.js';

// istio pilot/pkg/model/telemetry_logging.go EnvoyTextLogFormat, written out here so the
// test does not read the value under test.
const ISTIO_TEXT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% ' +
  '%BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

const scoped = applicableTelemetries(
  snapshotOf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: otel }]
    filter: { expression: 'response.code >= 500' }
---
`),
  PRODUCTPAGE,
);

const mesh = (config: Record<string, unknown>): MeshConfig => ({
  ...DEFAULT_MESH_CONFIG,
  extensionProviders: [{ name: 'otel', type: 'envoyOtelAls', config }],
});

// telemetry_logging.go openTelemetryLog / buildOpenTelemetryAccessLogConfig /
// ConvertStructToAttributeKeyValues.
describe('resolveAccessLogs: envoyOtelAls providers', () => {
  it("defaults logName to otel_envoy_accesslog and the body to Istio's text format, with no attributes", () => {
    const r = resolveAccessLogs(
      scoped,
      mesh({ service: 'otel-collector.observability.svc.cluster.local', port: 4317 }),
      'SERVER',
    );
    expect(r.unsupported).toEqual([]);
    expect(r.logs).toEqual([]);
    expect(r.otel).toEqual([
      {
        kind: 'otel',
        provider: 'otel',
        service: 'otel-collector.observability.svc.cluster.local',
        port: 4317,
        logName: 'otel_envoy_accesslog',
        text: ISTIO_TEXT,
        labels: [],
        filter: 'response.code >= 500',
      },
    ]);
  });

  it('keeps logName and logFormat.text as given (no newline added), and labels sorted by key as string formats', () => {
    const r = resolveAccessLogs(
      scoped,
      mesh({
        service: 'observability/otel.observability.svc.cluster.local',
        port: 4317,
        logName: 'my-log',
        logFormat: {
          text: '%REQ(:METHOD)% %RESPONSE_CODE%',
          labels: { zeta: '%RESPONSE_CODE%', alpha: '%REQ(:PATH)%', num: 7 },
        },
      }),
      'CLIENT',
    );
    expect(r.otel).toHaveLength(1);
    const o = r.otel[0]!;
    expect(o.logName).toBe('my-log');
    expect(o.text).toBe('%REQ(:METHOD)% %RESPONSE_CODE%');
    // A non-string label value is GetStringValue(): ''.
    expect(o.labels).toEqual([
      ['alpha', '%REQ(:PATH)%'],
      ['num', ''],
      ['zeta', '%RESPONSE_CODE%'],
    ]);
  });

  it('uses the default body when logFormat has labels only', () => {
    const r = resolveAccessLogs(
      scoped,
      mesh({ service: 'otel', port: 4317, logFormat: { labels: { peer: '%UPSTREAM_PEER_URI_SAN%' } } }),
      'SERVER',
    );
    expect(r.otel[0]?.text).toBe(ISTIO_TEXT);
    expect(r.otel[0]?.labels).toEqual([['peer', '%UPSTREAM_PEER_URI_SAN%']]);
  });
});
