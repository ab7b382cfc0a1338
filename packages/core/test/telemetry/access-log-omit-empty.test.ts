import { describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { createAccessLogFromSpec } from '../../src/telemetry/access-log/access-log.js';
import type { AccessLogEntry } from '../../src/telemetry/access-log/entry.js';
import { resolveAccessLogs } from '../../src/telemetry/config/access-log-config.js';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

const ENTRY: AccessLogEntry = {
  startTime: Date.UTC(2026, 1, 24, 14, 23, 15, 456),
  method: 'GET',
  path: '/reviews/0',
  authority: 'reviews:9080',
  protocol: 'HTTP/1.1',
  responseCode: 200,
  responseFlags: [],
  responseCodeDetails: 'via_upstream',
  connectionTerminationDetails: null,
  upstreamTransportFailureReason: null,
  bytesReceived: 0,
  bytesSent: 81,
  durationMs: 2,
  requestHeaders: {},
  responseHeaders: {},
  upstreamHost: '10.244.3.12:9080',
  upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
  upstreamLocalAddress: null,
  downstreamLocalAddress: '10.96.45.67:9080',
  downstreamRemoteAddress: '10.244.1.5:33210',
  requestedServerName: null,
  routeName: 'default',
};

const SCOPE = applicableTelemetries(
  snapshotOf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: text }, { name: json }]
`),
  PRODUCTPAGE,
);

// istio model/telemetry_logging.go fileAccessLogFromTelemetry passes the provider's
// omitEmptyValues to Envoy's SubstitutionFormatString.omit_empty_values: an unset
// operator prints '' instead of '-' in TEXT, and a JSON key whose value is null is left
// out (envoy api/envoy/config/core/v3/substitution_format_string.proto).
describe('envoyFileAccessLog omitEmptyValues', () => {
  const mesh = (omitEmptyValues: boolean): MeshConfig => ({
    ...DEFAULT_MESH_CONFIG,
    extensionProviders: [
      {
        name: 'text',
        type: 'envoyFileAccessLog',
        config: { path: '/tmp/t.log', omitEmptyValues, logFormat: { text: '%REQ(X-USER)%|%RESPONSE_CODE%' } },
      },
      {
        name: 'json',
        type: 'envoyFileAccessLog',
        config: {
          path: '/tmp/j.log',
          omitEmptyValues,
          logFormat: { labels: { user: '%REQ(X-USER)%', code: '%RESPONSE_CODE%' } },
        },
      },
    ],
  });
  const lines = (omit: boolean) =>
    resolveAccessLogs(SCOPE, mesh(omit), 'SERVER').logs.map((s) => createAccessLogFromSpec(s).format(ENTRY));

  it('prints empty for unset values in TEXT and leaves null keys out of JSON', () => {
    expect(lines(true)).toEqual(['{"code":200}\n', '|200\n']);
  });

  it('keeps - and null without it', () => {
    expect(lines(false)).toEqual(['{"code":200,"user":null}\n', '-|200\n']);
  });
});
