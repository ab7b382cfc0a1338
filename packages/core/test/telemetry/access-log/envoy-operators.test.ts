import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { compileJsonFormat } from '../../../src/telemetry/access-log/format.js';
import { formatLine, formatText } from './fixtures.js';

// Expectations from envoy source/common/formatter/stream_info_formatter.cc,
// source/extensions/formatter/built_in_http/http_specific_formatter.cc (their unit tests:
// test/common/formatter/substitution_formatter_test.cc) and
// source/extensions/formatter/cel/cel.cc; the peer objects from
// contrib/istio/filters/common/source/metadata_object.cc.

/** An inbound gRPC request from sleep to reviews, answered by the application. */
const ENTRY: AccessLogEntry = {
  direction: 'INBOUND',
  startTime: Date.UTC(2026, 10, 27, 15, 50, 7, 123),
  method: 'POST',
  path: '/reviews.Reviews/Get?x=1',
  authority: 'reviews:9080',
  scheme: 'http',
  protocol: 'HTTP/2',
  upstreamProtocol: 'HTTP/2',
  responseCode: 200,
  responseFlags: [],
  responseCodeDetails: 'via_upstream',
  connectionTerminationDetails: null,
  upstreamTransportFailureReason: null,
  bytesReceived: 5,
  bytesSent: 7,
  durationMs: 12.7,
  requestHeaders: {
    'content-type': 'application/grpc',
    'x-request-id': 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    'x-user': 'alice',
  },
  responseHeaders: { 'grpc-status': '3', 'content-type': 'application/grpc' },
  upstreamHost: '10.244.3.12:9080',
  upstreamCluster: 'inbound|9080||',
  upstreamLocalAddress: null,
  downstreamLocalAddress: '10.244.3.12:9080',
  downstreamRemoteAddress: '10.244.1.5:33210',
  downstreamDirectRemoteAddress: '10.244.1.5:33210',
  requestedServerName: 'outbound_.9080_._.reviews.default.svc.cluster.local',
  routeName: 'default',
  connection: {},
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  localReplyBody: '',
  timing: {
    lastDownstreamRx: 1.4,
    lastUpstreamTx: 1.4,
    firstUpstreamRx: 9.9,
    firstDownstreamTx: 9.9,
    lastDownstreamTx: 12.7,
  },
  downstreamPeer: {
    instance: 'sleep-7b9c-x1',
    namespace: 'default',
    workload: 'sleep',
    cluster: 'Kubernetes',
    canonicalService: 'sleep',
    canonicalRevision: 'v1',
    app: 'sleep',
    version: 'v1',
  },
};

const text = (format: string, entry: AccessLogEntry = ENTRY) => formatText(format, entry);
const line = (format: string, entry: AccessLogEntry = ENTRY): string => formatLine(format, entry);

const json = (format: Record<string, string>, entry: AccessLogEntry = ENTRY): unknown =>
  JSON.parse(compileJsonFormat(format)(entry));

describe('access log format syntax', () => {
  it('reads %% as a literal % and reports a % that starts no command (Envoy refuses the format)', () => {
    expect(line('100%% %RESPONSE_CODE%')).toBe('100% 200');
    const bad = text('50% off %RESPONSE_CODE%');
    expect(bad.line).toBe('50% off 200');
    expect(bad.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('Envoy refuses the access log format'),
    ]);
  });

  it('keeps the load warning for operators meshlet still cannot print', () => {
    const r = text(
      '%DOWNSTREAM_PEER_CHAIN_FINGERPRINTS_256% %DYNAMIC_METADATA(envoy.filters.http.ext_authz:status)%',
    );
    expect(r.line).toBe('- -');
    expect(r.problems.map((p) => p.operator)).toEqual([
      '%DOWNSTREAM_PEER_CHAIN_FINGERPRINTS_256%',
      '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:status)%',
    ]);
    expect(r.problems[0]?.message).toContain('is not supported by meshlet');
  });
});

describe('time operators', () => {
  it('formats START_TIME with %s, %Nf and strftime specifiers, UTC', () => {
    expect(line('%START_TIME(%s.%3f)% %START_TIME(%Y/%m/%dT%H:%M:%S%z)% %START_TIME(%E3S)%')).toBe(
      '1795794607.123 2026/11/27T15:50:07+0000 07.123',
    );
    expect(line('%START_TIME(%s.%6f)%')).toBe('1795794607.123000');
  });

  it("prints START_TIME_LOCAL in the process's zone with its offset, EMIT_TIME as now", () => {
    const d = new Date(ENTRY.startTime);
    const off = -d.getTimezoneOffset();
    const sign = off < 0 ? '-' : '+';
    const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, '0');
    const mm = String(Math.abs(off) % 60).padStart(2, '0');
    const pad = (n: number) => String(n).padStart(2, '0');
    expect(line('%START_TIME_LOCAL%')).toBe(
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.123${sign}${hh}${mm}`,
    );
    const before = Date.now();
    const emitted = Number(line('%EMIT_TIME(%s)%'));
    expect(emitted).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(line('%EMIT_TIME%')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('prints the request and response durations in whole ms, unset when a point was not reached', () => {
    expect(line('%REQUEST_DURATION% %REQUEST_TX_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%')).toBe(
      '1 1 9 2',
    );
    const denied = { ...ENTRY, timing: { lastDownstreamRx: 0.2, lastDownstreamTx: 3 } };
    expect(
      line('%REQUEST_DURATION% %REQUEST_TX_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%', denied),
    ).toBe('0 - - -');
    expect(json({ d: '%RESPONSE_DURATION%', u: '%RESPONSE_TX_DURATION%' }, denied)).toEqual({
      d: null,
      u: null,
    });
    expect(json({ d: '%RESPONSE_DURATION%' })).toEqual({ d: 9 });
  });

  it('prints COMMON_DURATION between two time points in ms, us or ns', () => {
    expect(line('%COMMON_DURATION(DS_RX_BEG:DS_TX_END)% %COMMON_DURATION(US_RX_BEG:DS_TX_END:us)%')).toBe(
      '12 2800',
    );
    expect(line('%COMMON_DURATION(DS_RX_END:US_RX_BEG:ns)%')).toBe('8500000');
    // A point never set (a filter-set one, the upstream connect) and an end before the start.
    expect(line('%COMMON_DURATION(US_CX_BEG:US_CX_END)% %COMMON_DURATION(my_point:DS_TX_END)%')).toBe('- -');
    expect(line('%COMMON_DURATION(DS_TX_END:DS_RX_BEG)%')).toBe('-');
    expect(text('%COMMON_DURATION(DS_RX_BEG:DS_TX_END:s)%').problems).toHaveLength(1);
  });
});

describe('request, response and connection operators', () => {
  it('prints GRPC_STATUS of a gRPC request as CAMEL_STRING, SNAKE_STRING or NUMBER', () => {
    expect(
      line('%GRPC_STATUS% %GRPC_STATUS(CAMEL_STRING)% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS(NUMBER)%'),
    ).toBe('InvalidArgument InvalidArgument INVALID_ARGUMENT 3');
    expect(line('%GRPC_STATUS_NUMBER%')).toBe('3');
    expect(json({ n: '%GRPC_STATUS(NUMBER)%', s: '%GRPC_STATUS%' })).toEqual({ n: 3, s: 'InvalidArgument' });
    // No grpc-status: the HTTP status's gRPC code (404 → UNIMPLEMENTED); a code past the
    // known ones prints as its number.
    const noStatus = { ...ENTRY, responseCode: 404, responseHeaders: {} };
    expect(line('%GRPC_STATUS%', noStatus)).toBe('Unimplemented');
    expect(line('%GRPC_STATUS%', { ...ENTRY, responseHeaders: { 'grpc-status': '42' } })).toBe('42');
    expect(line('%GRPC_STATUS(SNAKE_STRING)%', { ...ENTRY, responseHeaders: { 'grpc-status': '1' } })).toBe(
      'CANCELLED',
    );
    // Not a gRPC request: validate_grpc_header_before_log_grpc_status.
    expect(line('%GRPC_STATUS%', { ...ENTRY, requestHeaders: {} })).toBe('-');
    expect(text('%GRPC_STATUS(LOWER)%').problems).toHaveLength(1);
  });

  it('prints RESPONSE_FLAGS_LONG in Envoy order, - for none', () => {
    expect(line('%RESPONSE_FLAGS_LONG%')).toBe('-');
    expect(line('%RESPONSE_FLAGS_LONG%', { ...ENTRY, responseFlags: ['URX', 'UF'] })).toBe(
      'UpstreamConnectionFailure,UpstreamRetryLimitExceeded',
    );
    expect(line('%RESPONSE_FLAGS_LONG%', { ...ENTRY, responseFlags: ['DC'] })).toBe(
      'DownstreamConnectionTermination',
    );
  });

  it('prints the address operators with and without port, and the port alone (a number in JSON)', () => {
    expect(
      line(
        '%DOWNSTREAM_LOCAL_PORT% %DOWNSTREAM_REMOTE_PORT% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_DIRECT_REMOTE_PORT%',
      ),
    ).toBe('9080 33210 10.244.1.5:33210 10.244.1.5 33210');
    expect(
      line('%UPSTREAM_REMOTE_ADDRESS% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_REMOTE_PORT%'),
    ).toBe('10.244.3.12:9080 10.244.3.12 9080');
    const v6 = { ...ENTRY, upstreamLocalAddress: '[fd00::1]:41234' };
    expect(line('%UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %UPSTREAM_LOCAL_PORT%', v6)).toBe('fd00::1 41234');
    expect(json({ p: '%DOWNSTREAM_LOCAL_PORT%', u: '%UPSTREAM_LOCAL_PORT%' })).toEqual({ p: 9080, u: null });
    expect(line('%UPSTREAM_HOST_NAME% %UPSTREAM_HOST_NAME_WITHOUT_PORT%')).toBe(
      '10.244.3.12:9080 10.244.3.12',
    );
    expect(
      line('%UPSTREAM_HOST_NAME% %UPSTREAM_HOST_NAME_WITHOUT_PORT%', {
        ...ENTRY,
        upstreamHostname: 'api.example.com',
      }),
    ).toBe('api.example.com api.example.com');
  });

  it('prints ids: CONNECTION_ID per connection, STREAM_ID the request id, UNIQUE_ID fresh, TRACE_ID', () => {
    const conn = {};
    const a = Number(line('%CONNECTION_ID%', { ...ENTRY, connection: conn }));
    expect(a).toBeGreaterThan(0);
    expect(Number(line('%CONNECTION_ID%', { ...ENTRY, connection: conn }))).toBe(a);
    expect(Number(line('%CONNECTION_ID%', { ...ENTRY, connection: {} }))).not.toBe(a);
    expect(line('%CONNECTION_ID%', { ...ENTRY, connection: null })).toBe('0');
    expect(line('%STREAM_ID%')).toBe('f47ac10b-58cc-4372-a567-0e02b2c3d479');
    const [u1, u2] = line('%UNIQUE_ID% %UNIQUE_ID%').split(' ');
    expect(u1).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(u1).not.toBe(u2);
    expect(line('%TRACE_ID%')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(line('%TRACE_ID%', { ...ENTRY, traceId: null })).toBe('-');
  });

  it('prints UPSTREAM_PROTOCOL, ACCESS_LOG_TYPE, LOCAL_REPLY_BODY, VIRTUAL_CLUSTER_NAME', () => {
    expect(line('%UPSTREAM_PROTOCOL% %ACCESS_LOG_TYPE% [%LOCAL_REPLY_BODY%] %VIRTUAL_CLUSTER_NAME%')).toBe(
      'HTTP/2 DownstreamEnd [] -',
    );
    const denied = { ...ENTRY, upstreamProtocol: null, localReplyBody: 'RBAC: access denied' };
    expect(line('%UPSTREAM_PROTOCOL% [%LOCAL_REPLY_BODY%]', denied)).toBe('- [RBAC: access denied]');
  });

  it('counts header bytes as Envoy HeaderMap::byteSize does (names and values, pseudo-headers included)', () => {
    // :method POST, :path, :authority, :scheme + three headers.
    const request = 7 + 4 + 5 + ENTRY.path!.length + 10 + 12 + 7 + 4 + 12 + 16 + 12 + 36 + 6 + 5;
    const response = 7 + 3 + 11 + 1 + 12 + 16;
    expect(line('%REQUEST_HEADERS_BYTES% %RESPONSE_HEADERS_BYTES%')).toBe(`${request} ${response}`);
    expect(line('%RESPONSE_HEADERS_BYTES%', { ...ENTRY, responseCode: 0, responseHeaders: {} })).toBe('0');
  });

  it('prints the downstream bytes meter', () => {
    const entry = {
      ...ENTRY,
      wire: {
        downstreamReceived: 210,
        downstreamSent: 99,
        downstreamHeadersReceived: 205,
        downstreamHeadersSent: 92,
      },
    };
    expect(
      line(
        '%DOWNSTREAM_WIRE_BYTES_RECEIVED% %DOWNSTREAM_WIRE_BYTES_SENT% %DOWNSTREAM_HEADER_BYTES_RECEIVED% %DOWNSTREAM_HEADER_BYTES_SENT%',
        entry,
      ),
    ).toBe('210 99 205 92');
  });

  it('replaces the spaces of UPSTREAM_TRANSPORT_FAILURE_REASON with _', () => {
    const entry = { ...ENTRY, upstreamTransportFailureReason: 'delayed connect error: 111' };
    expect(line('%UPSTREAM_TRANSPORT_FAILURE_REASON%', entry)).toBe('delayed_connect_error:_111');
  });

  it('replaces whitespace in RESPONSE_CODE_DETAILS unless ALLOW_WHITESPACES', () => {
    const entry = { ...ENTRY, responseCodeDetails: 'ext_authz denied this' };
    expect(line('%RESPONSE_CODE_DETAILS% %RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES)%', entry)).toBe(
      'ext_authz_denied_this ext_authz denied this',
    );
  });
});

describe('%CEL(...)% and %FILTER_STATE(...)%', () => {
  it('prints a CEL expression over the attributes, - on error, truncated with :Z, a string in JSON', () => {
    expect(line("%CEL(request.headers['x-user'])% %CEL(response.code)% %CEL(request.url_path)%")).toBe(
      'alice 200 /reviews.Reviews/Get',
    );
    expect(line("%CEL(request.headers['x-missing'])%")).toBe('-');
    expect(line('%CEL(request.url_path):8%')).toBe('/reviews');
    expect(json({ c: '%CEL(response.code)%', m: "%CEL(request.headers['x-missing'])%" })).toEqual({
      c: '200',
      m: null,
    });
  });

  it('reports a CEL expression that does not parse or reads what meshlet cannot', () => {
    const r = text('%CEL(request.path ==)% %CEL(upstream.cx_pool_ready_duration)%');
    expect(r.line).toBe('- -');
    expect(r.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('Envoy refuses'),
      expect.stringContaining('meshlet cannot evaluate'),
    ]);
  });

  it('prints the jwt_authn payload from dynamic metadata: strings as they are, lists as JSON, - when absent', () => {
    const entry = {
      ...ENTRY,
      dynamicMetadata: {
        'envoy.filters.http.jwt_authn': {
          payload: { sub: 'alice', scope: ['read', 'write'], exp: 1700000000 },
        },
      },
    };
    expect(
      line(
        '%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:sub)% %METADATA(DYNAMIC:envoy.filters.http.jwt_authn:payload:sub)% %DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:scope)% %DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:nope)%',
        entry,
      ),
    ).toBe('alice alice ["read","write"] -');
    expect(line('%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:sub):3%', entry)).toBe('ali');
    expect(line('%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:sub)%')).toBe('-');
    expect(json({ exp: '%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:exp)%' }, entry)).toEqual({
      exp: 1700000000,
    });
    // Other filters' metadata (ext_authz's) stays reported, and so does a type Envoy lacks;
    // the xDS resources' metadata (CLUSTER, ROUTE...) is read (xds-metadata-operators.test.ts).
    expect(
      text('%METADATA(CLUSTER:istio)% %METADATA(DYNAMIC:envoy.filters.http.ext_authz)% %METADATA(NOPE:x)%')
        .problems,
    ).toHaveLength(2);
  });

  it("prints the RBAC filters' dry-run results and AUDIT's access_log_hint (rbac_filter.cc, engine_impl.cc)", () => {
    const entry = {
      ...ENTRY,
      dynamicMetadata: {
        'envoy.filters.http.rbac': {
          istio_dry_run_deny_shadow_engine_result: 'denied',
          istio_dry_run_deny_shadow_effective_policy_id: 'ns[foo]-policy[deny-path-headers]-rule[0]',
        },
        'envoy.common': { access_log_hint: true },
      },
    };
    const r = text(
      '%DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_deny_shadow_engine_result)% %DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_deny_shadow_effective_policy_id)% %DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_allow_shadow_engine_result)% %DYNAMIC_METADATA(envoy.common:access_log_hint)%',
      entry,
    );
    expect(r.problems).toEqual([]);
    expect(r.line).toBe('denied ns[foo]-policy[deny-path-headers]-rule[0] - true');
  });

  it("prints a field of Istio's peer object, - when there is no peer", () => {
    expect(
      line(
        '%FILTER_STATE(downstream_peer:FIELD:workload)% %FILTER_STATE(downstream_peer:FIELD:namespace)% %FILTER_STATE(downstream_peer:FIELD:service)% %FILTER_STATE(downstream_peer:FIELD:revision)% %FILTER_STATE(downstream_peer:FIELD:name)%',
      ),
    ).toBe('sleep default sleep v1 sleep-7b9c-x1');
    expect(line('%FILTER_STATE(upstream_peer:FIELD:workload)%')).toBe('-');
    const r = text(
      '%FILTER_STATE(downstream_peer)% %FILTER_STATE(downstream_peer:PLAIN)% %FILTER_STATE(other)%',
    );
    expect(r.line).toBe('- - -');
    expect(r.problems).toHaveLength(3);
  });
});
