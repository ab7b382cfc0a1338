import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { compileTextFormat, type FormatProblem } from '../../../src/telemetry/access-log/format.js';

// envoy source/common/formatter/stream_info_formatter.cc: the UPSTREAM_* TLS commands
// (StreamInfoUpstreamSslConnectionInfoFormatterProvider) print `-` without an upstream
// TLS connection; UPSTREAM_CONNECTION_ID prints `upstreamConnectionId().value_or(0)`.
// Envoy has no UPSTREAM_LOCAL_SUBJECT, UPSTREAM_PEER_FINGERPRINT_256/1 nor
// UPSTREAM_PEER_SERIAL command: a format naming one is refused.

/** A local reply: no upstream connection at all. */
const ENTRY: AccessLogEntry = {
  direction: 'OUTBOUND',
  startTime: 0,
  method: 'GET',
  path: '/',
  authority: 'reviews:9080',
  protocol: 'HTTP/1.1',
  responseCode: 503,
  responseFlags: ['UF'],
  responseCodeDetails: null,
  connectionTerminationDetails: null,
  upstreamTransportFailureReason: null,
  bytesReceived: 0,
  bytesSent: 0,
  durationMs: 1,
  requestHeaders: {},
  responseHeaders: {},
  upstreamHost: null,
  upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
  upstreamLocalAddress: null,
  downstreamLocalAddress: null,
  downstreamRemoteAddress: null,
  requestedServerName: null,
  routeName: null,
};

function text(format: string, entry: AccessLogEntry = ENTRY): { line: string; problems: FormatProblem[] } {
  const problems: FormatProblem[] = [];
  return { line: compileTextFormat(format, problems)(entry).trimEnd(), problems };
}

describe('upstream TLS operators', () => {
  it('print - without an upstream connection, and UPSTREAM_CONNECTION_ID 0', () => {
    const r = text(
      '%UPSTREAM_PEER_URI_SAN% %UPSTREAM_LOCAL_URI_SAN% %UPSTREAM_TLS_VERSION% %UPSTREAM_TLS_CIPHER% ' +
        '%UPSTREAM_PEER_CERT_V_START% %UPSTREAM_TLS_SESSION_ID% %UPSTREAM_CONNECTION_ID% %CEL(upstream.tls_version)%',
    );
    expect(r.problems).toEqual([]);
    expect(r.line).toBe('- - - - - - 0 -');
  });

  it('gives one connection one id, another connection another', () => {
    const a = {};
    const f = compileTextFormat('%UPSTREAM_CONNECTION_ID%');
    const first = f({ ...ENTRY, upstreamConnection: a });
    expect(f({ ...ENTRY, upstreamConnection: a })).toBe(first);
    expect(f({ ...ENTRY, upstreamConnection: {} })).not.toBe(first);
    expect(Number(first)).toBeGreaterThan(0);
  });

  it('reports the downstream-only commands Envoy has no upstream twin of', () => {
    const r = text(
      '%UPSTREAM_LOCAL_SUBJECT% %UPSTREAM_PEER_FINGERPRINT_256% %UPSTREAM_PEER_FINGERPRINT_1% %UPSTREAM_PEER_SERIAL%',
    );
    expect(r.line).toBe('- - - -');
    expect(r.problems.map((p) => p.operator)).toEqual([
      '%UPSTREAM_LOCAL_SUBJECT%',
      '%UPSTREAM_PEER_FINGERPRINT_256%',
      '%UPSTREAM_PEER_FINGERPRINT_1%',
      '%UPSTREAM_PEER_SERIAL%',
    ]);
    expect(r.problems[0]?.message).toContain('Envoy has no %UPSTREAM_LOCAL_SUBJECT%');
  });
});
