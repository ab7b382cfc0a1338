import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { envoyFilterSpec, type EnvoyFilterSpec } from '../../../src/config/schema/envoy-filter.js';
import { scanEnvoyFilter } from '../../../src/config/schema/local-rate-limit-patches.js';
import { parseGlobalRateLimit } from '../../../src/config/schema/rate-limit-filter.js';
import { SAMPLES, validate } from './samples.js';

// Envoy's global rate limit filter (envoy.filters.http.ratelimit, envoy
// api/envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto, config.cc, ratelimit.h),
// the route / virtual host `rate_limits` that build its descriptors (envoy
// api/envoy/config/route/v3/route_components.proto) and the clusters a CLUSTER ADD patch
// creates, as EnvoyFilter patches carry them.

const DIRECT = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';

// Written after the istio.io task "Enabling Rate Limits using Envoy" (global rate limit
// section): the filter before the router, calling the rate limit service through its Istio
// cluster, and the virtual host's rate_limits sending the request path as PATH.
const TASK_FILTER = `
workloadSelector:
  labels:
    istio: ingressgateway
configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter:
            name: "envoy.filters.network.http_connection_manager"
            subFilter:
              name: "envoy.filters.http.router"
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: ratelimit
          failure_mode_deny: true
          timeout: 10s
          rate_limit_service:
            grpc_service:
              envoy_grpc:
                cluster_name: outbound|8081||ratelimit.default.svc.cluster.local
                authority: ratelimit.default.svc.cluster.local
            transport_api_version: V3
`;

const TASK_VHOST = `
workloadSelector:
  labels:
    istio: ingressgateway
configPatches:
  - applyTo: VIRTUAL_HOST
    match:
      context: GATEWAY
      routeConfiguration:
        vhost:
          name: ""
          route:
            action: ANY
    patch:
      operation: MERGE
      value:
        rate_limits:
          - actions:
              - request_headers:
                  header_name: ":path"
                  descriptor_key: "PATH"
`;

function spec(text: string): EnvoyFilterSpec {
  return envoyFilterSpec.parse(parseDocument(text).toJS());
}

/** The task's typed_config with these fields changed (null removes one). */
function body(over: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    '@type': DIRECT,
    domain: 'ratelimit',
    rate_limit_service: {
      grpc_service: { envoy_grpc: { cluster_name: 'outbound|8081||ratelimit.default.svc.cluster.local' } },
      transport_api_version: 'V3',
    },
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete base[k];
    else base[k] = v;
  }
  return base;
}

const parse = (over: Record<string, unknown> = {}) => parseGlobalRateLimit(body(over), ['tc']);
const paths = (ps: readonly { path: readonly (string | number)[] }[]) => ps.map((p) => formatPath(p.path));

/** An EnvoyFilter spec with one HTTP_FILTER patch inserting this typed_config. */
function filterSpec(typedConfig: unknown): unknown {
  return {
    configPatches: [
      {
        applyTo: 'HTTP_FILTER',
        match: {
          context: 'SIDECAR_INBOUND',
          listener: {
            filterChain: {
              filter: {
                name: 'envoy.filters.network.http_connection_manager',
                subFilter: { name: 'envoy.filters.http.router' },
              },
            },
          },
        },
        patch: {
          operation: 'INSERT_BEFORE',
          value: { name: 'envoy.filters.http.ratelimit', typed_config: typedConfig },
        },
      },
    ],
  };
}

describe('parseGlobalRateLimit: the istio.io task filter', () => {
  const expected = {
    domain: 'ratelimit',
    stage: 0,
    requestType: 'both',
    timeoutMs: 10_000,
    failureModeDeny: true,
    statusOnError: 500,
    rateLimitedStatus: 429,
    rateLimitedAsResourceExhausted: false,
    enableXRateLimitHeaders: false,
    disableXEnvoyRateLimitedHeader: false,
    responseHeadersToAdd: [],
    statPrefix: '',
    service: {
      clusterName: 'outbound|8081||ratelimit.default.svc.cluster.local',
      authority: 'ratelimit.default.svc.cluster.local',
    },
  };

  it('reads the direct @type form into a frozen config, with no problem', () => {
    const scan = scanEnvoyFilter(spec(TASK_FILTER));
    expect([scan.errors, scan.warnings, scan.notices, scan.unsupported]).toEqual([[], [], [], []]);
    expect(scan.globals).toHaveLength(1);
    const g = scan.globals[0]!;
    expect(g).toMatchObject({
      applyTo: 'HTTP_FILTER',
      operation: 'INSERT_BEFORE',
      context: 'GATEWAY',
      filterName: 'envoy.filters.http.ratelimit',
    });
    expect(g.config).toEqual(expected);
    expect(Object.isFrozen(g.config)).toBe(true);
  });

  it.each(['type.googleapis.com/udpa.type.v1.TypedStruct', 'type.googleapis.com/xds.type.v3.TypedStruct'])(
    'reads the same config from a %s, with paths inside its value',
    (typedStruct) => {
      const direct = parseDocument(TASK_FILTER).toJS() as {
        configPatches: { patch: { value: { typed_config: Record<string, unknown> } } }[];
      };
      const tc = direct.configPatches[0]!.patch.value.typed_config;
      const { '@type': _type, ...value } = tc;
      const r = parseGlobalRateLimit(
        { '@type': typedStruct, type_url: DIRECT, value: { ...value, stage: 11 } },
        ['tc'],
      );
      expect(paths(r.errors)).toEqual(['tc.value.stage']);
      const ok = parseGlobalRateLimit({ '@type': typedStruct, type_url: DIRECT, value }, ['tc']);
      expect(ok.errors).toEqual([]);
      expect(ok.config).toEqual(expected);
    },
  );

  it('refuses a typed_config of another type', () => {
    const r = parseGlobalRateLimit(
      { '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit' },
      ['tc'],
    );
    expect(r.config).toBeNull();
    expect(paths(r.errors)).toEqual(['tc']);
  });
});

describe('parseGlobalRateLimit: defaults and ranges', () => {
  it('defaults: timeout 20 ms, fail open, status_on_error 500, 429, request_type both, stage 0, authority unset', () => {
    const r = parse();
    expect([r.errors, r.warnings, r.notices]).toEqual([[], [], []]);
    expect(r.config).toMatchObject({
      stage: 0,
      requestType: 'both',
      timeoutMs: 20,
      failureModeDeny: false,
      statusOnError: 500,
      rateLimitedStatus: 429,
      enableXRateLimitHeaders: false,
      disableXEnvoyRateLimitedHeader: false,
      // Envoy's envoy_grpc authority defaults to the cluster name: no authority of its own.
      service: { clusterName: 'outbound|8081||ratelimit.default.svc.cluster.local', authority: null },
    });
  });

  it.each([
    ['0.25s', 250],
    ['2s', 2000],
    ['0s', null],
  ])('timeout %s is %j ms (0 means no timeout)', (timeout, ms) => {
    expect(parse({ timeout }).config?.timeoutMs).toBe(ms);
  });

  it('refuses a timeout that is not a proto Duration', () => {
    expect(paths(parse({ timeout: '1m' }).errors)).toEqual(['tc.timeout']);
  });

  it.each([
    [{ code: 503 }, 503],
    [{ code: 'ServiceUnavailable' }, 503],
    [{ code: 100 }, 100],
    [{ code: 511 }, 511],
    // Unlike rate_limited_status, a status below 400 is kept (toRatelimitServerErrorCode: 100..511).
    [{ code: 200 }, 200],
  ])('status_on_error %j is %i', (status, code) => {
    const r = parse({ status_on_error: status });
    expect(r.errors).toEqual([]);
    expect(r.config?.statusOnError).toBe(code);
  });

  it('refuses a status_on_error that is no envoy.type.v3.StatusCode', () => {
    const r = parse({ status_on_error: { code: 299 } });
    expect(r.config).toBeNull();
    expect(paths(r.errors)).toEqual(['tc.status_on_error.code']);
  });

  it.each([
    [{ code: 503 }, 503],
    [{ code: 400 }, 400],
    [{ code: 'TooManyRequests' }, 429],
    [{ code: 200 }, 429],
    [{ code: 302 }, 429],
  ])('rate_limited_status %j is %i (below 400 becomes 429)', (status, code) => {
    expect(parse({ rate_limited_status: status }).config?.rateLimitedStatus).toBe(code);
  });

  it.each([
    ['internal', 'internal'],
    ['external', 'external'],
    ['both', 'both'],
    ['', 'both'],
  ])('request_type %j is %s', (value, type) => {
    const r = parse({ request_type: value });
    expect(r.errors).toEqual([]);
    expect(r.config?.requestType).toBe(type);
  });

  it('refuses a request_type outside [internal, external, both, ""]', () => {
    const r = parse({ request_type: 'all' });
    expect(r.config).toBeNull();
    expect(paths(r.errors)).toEqual(['tc.request_type']);
  });

  it('takes stage 10 and refuses stage 11 (lte: 10)', () => {
    expect(parse({ stage: 10 }).config?.stage).toBe(10);
    const r = parse({ stage: 11 });
    expect(r.config).toBeNull();
    expect(r.errors.map((e) => [formatPath(e.path), e.message])).toEqual([
      ['tc.stage', 'value must be less than or equal to 10'],
    ]);
  });

  it('requires a domain (min_len 1)', () => {
    for (const over of [{ domain: null }, { domain: '' }]) {
      const r = parse(over);
      expect(r.config).toBeNull();
      expect(paths(r.errors)).toEqual(['tc.domain']);
    }
  });

  it('requires rate_limit_service', () => {
    const r = parse({ rate_limit_service: null });
    expect(r.config).toBeNull();
    expect(paths(r.errors)).toEqual(['tc.rate_limit_service']);
  });

  it('reads the response options and camelCase names', () => {
    const r = parse({
      failureModeDeny: true,
      rate_limited_as_resource_exhausted: true,
      enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
      disable_x_envoy_ratelimited_header: true,
      stat_prefix: 'rl',
      response_headers_to_add: [{ header: { key: 'X-RL', value: 'yes' } }],
    });
    expect(r.errors).toEqual([]);
    expect(r.config).toMatchObject({
      failureModeDeny: true,
      rateLimitedAsResourceExhausted: true,
      enableXRateLimitHeaders: true,
      disableXEnvoyRateLimitedHeader: true,
      statPrefix: 'rl',
      responseHeadersToAdd: [{ key: 'x-rl', value: 'yes' }],
    });
  });
});

describe('parseGlobalRateLimit: rate_limit_service', () => {
  const service = (svc: Record<string, unknown>) => parse({ rate_limit_service: svc });
  const grpc = { envoy_grpc: { cluster_name: 'rate_limit_cluster' } };

  it.each([
    ['missing', { grpc_service: grpc }, 'tc.rate_limit_service.transport_api_version'],
    [
      'V2',
      { grpc_service: grpc, transport_api_version: 'V2' },
      'tc.rate_limit_service.transport_api_version',
    ],
    [
      'AUTO',
      { grpc_service: grpc, transport_api_version: 'AUTO' },
      'tc.rate_limit_service.transport_api_version',
    ],
  ])(
    'transport_api_version %s: a notice (Envoy refuses the filter), and no service to call',
    (_what, svc, at) => {
      const r = service(svc);
      expect(r.errors).toEqual([]);
      expect(paths(r.notices)).toEqual([at]);
      expect(r.notices[0]?.message).toContain('transport_api_version');
      expect(r.config?.service).toBeNull();
    },
  );

  it('google_grpc: a warning, and no service to call', () => {
    const r = service({
      grpc_service: { google_grpc: { target_uri: 'ratelimit:8081', stat_prefix: 'rl' } },
      transport_api_version: 'V3',
    });
    expect(r.errors).toEqual([]);
    expect(paths(r.warnings)).toEqual(['tc.rate_limit_service.grpc_service.google_grpc']);
    expect(r.config?.service).toBeNull();
  });

  it('keeps an explicit authority; an empty one is the default', () => {
    const at = (authority: string) =>
      service({
        grpc_service: { envoy_grpc: { cluster_name: 'c', authority } },
        transport_api_version: 'V3',
      }).config?.service?.authority;
    expect(at('rls.example')).toBe('rls.example');
    expect(at('')).toBeNull();
  });

  it('requires a cluster_name', () => {
    const r = service({ grpc_service: { envoy_grpc: {} }, transport_api_version: 'V3' });
    expect(r.config).toBeNull();
    expect(paths(r.errors)).toEqual(['tc.rate_limit_service.grpc_service.envoy_grpc.cluster_name']);
  });
});

describe('parseGlobalRateLimit: fields meshlet does not act on', () => {
  it('warns about unknown fields at their path and keeps the config', () => {
    const r = parse({ bogus: 1 });
    expect(r.config).not.toBeNull();
    expect(paths(r.warnings)).toEqual(['tc.bogus']);
    const inner = parse({
      rate_limit_service: {
        grpc_service: { envoy_grpc: { cluster_name: 'c', extra: true } },
        transport_api_version: 'V3',
      },
    });
    expect(paths(inner.warnings)).toEqual(['tc.rate_limit_service.grpc_service.envoy_grpc.extra']);
  });

  it('warns about known fields it does not apply', () => {
    const r = parse({ failure_mode_deny_percent: { default_value: 50 } });
    expect(r.config).not.toBeNull();
    expect(paths(r.warnings)).toEqual(['tc.failure_mode_deny_percent']);
  });
});

/** The rate_limits of one VIRTUAL_HOST MERGE patch. */
function vhost(rateLimits: string): ReturnType<typeof scanEnvoyFilter> {
  return scanEnvoyFilter(
    spec(`
configPatches:
  - applyTo: VIRTUAL_HOST
    match:
      context: SIDECAR_INBOUND
      routeConfiguration: { vhost: { name: "inbound|http|9080" } }
    patch:
      operation: MERGE
      value:
        rate_limits:
${rateLimits
  .trim()
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
`),
  );
}

const RL = ['spec', 'configPatches', 0, 'patch', 'value', 'rate_limits'] as const;
const rl = (...rest: (string | number)[]) => formatPath([...RL, ...rest]);

describe('scanEnvoyFilter: route and virtual host rate_limits', () => {
  it('reads the task’s VIRTUAL_HOST patch', () => {
    const scan = scanEnvoyFilter(spec(TASK_VHOST));
    expect([scan.errors, scan.warnings, scan.unsupported]).toEqual([[], [], []]);
    expect(scan.rateLimits).toHaveLength(1);
    expect(scan.rateLimits[0]).toMatchObject({
      applyTo: 'VIRTUAL_HOST',
      operation: 'MERGE',
      context: 'GATEWAY',
      includeVhRateLimits: null,
      rateLimits: [
        {
          stage: 0,
          disableKey: '',
          actions: [
            { kind: 'request_headers', headerName: ':path', descriptorKey: 'PATH', skipIfAbsent: false },
          ],
        },
      ],
    });
  });

  it('reads every supported action with its defaults', () => {
    const scan = vhost(`
- stage: 1
  disable_key: k
  actions:
  - source_cluster: {}
  - destination_cluster: {}
  - request_headers: { header_name: X-User, descriptor_key: user }
  - request_headers: { header_name: x-b, descriptor_key: b, skip_if_absent: true }
  - remote_address: {}
  - masked_remote_address: {}
  - masked_remote_address: { v4_prefix_mask_len: 24, v6_prefix_mask_len: 64 }
  - generic_key: { descriptor_value: v }
  - generic_key: { descriptor_key: gk, descriptor_value: v }
  - header_value_match: { descriptor_value: hv, headers: [{ name: X-H, present_match: true }] }
  - header_value_match: { descriptor_key: hk, descriptor_value: hv, expect_match: false, headers: [{ name: x-h }] }
  - query_parameters: { query_parameter_name: q, descriptor_key: qk }
`);
    expect([scan.errors, scan.warnings]).toEqual([[], []]);
    const entry = scan.rateLimits[0]?.rateLimits[0];
    expect(entry).toMatchObject({ stage: 1, disableKey: 'k' });
    expect(entry?.actions).toEqual([
      { kind: 'source_cluster' },
      { kind: 'destination_cluster' },
      { kind: 'request_headers', headerName: 'x-user', descriptorKey: 'user', skipIfAbsent: false },
      { kind: 'request_headers', headerName: 'x-b', descriptorKey: 'b', skipIfAbsent: true },
      { kind: 'remote_address' },
      { kind: 'masked_remote_address', v4: 32, v6: 128 },
      { kind: 'masked_remote_address', v4: 24, v6: 64 },
      { kind: 'generic_key', descriptorKey: 'generic_key', descriptorValue: 'v' },
      { kind: 'generic_key', descriptorKey: 'gk', descriptorValue: 'v' },
      {
        kind: 'header_value_match',
        descriptorKey: 'header_match',
        descriptorValue: 'hv',
        expectMatch: true,
        headers: [
          { name: 'x-h', match: { kind: 'present', present: true }, invert: false, missingAsEmpty: false },
        ],
      },
      {
        kind: 'header_value_match',
        descriptorKey: 'hk',
        descriptorValue: 'hv',
        expectMatch: false,
        headers: [
          { name: 'x-h', match: { kind: 'present', present: true }, invert: false, missingAsEmpty: false },
        ],
      },
      { kind: 'query_parameters', name: 'q', descriptorKey: 'qk', skipIfAbsent: false },
    ]);
  });

  it('reads an HTTP_ROUTE patch’s route.rate_limits and include_vh_rate_limits', () => {
    const scan = scanEnvoyFilter(
      spec(`
configPatches:
  - applyTo: HTTP_ROUTE
    match:
      context: SIDECAR_INBOUND
      routeConfiguration: { vhost: { name: "inbound|http|9080", route: { action: ANY } } }
    patch:
      operation: MERGE
      value:
        route:
          include_vh_rate_limits: true
          rate_limits:
            - actions: [{ generic_key: { descriptor_value: route } }]
  - applyTo: HTTP_ROUTE
    match:
      context: SIDECAR_INBOUND
      routeConfiguration: { vhost: { name: "inbound|http|9080", route: { action: ANY } } }
    patch:
      operation: MERGE
      value:
        route:
          rate_limits:
            - actions: [{ remote_address: {} }]
`),
    );
    expect([scan.errors, scan.warnings, scan.unsupported]).toEqual([[], [], []]);
    expect(
      scan.rateLimits.map((p) => [
        p.applyTo,
        p.includeVhRateLimits,
        p.rateLimits.map((e) => e.actions[0]?.kind),
      ]),
    ).toEqual([
      ['HTTP_ROUTE', true, ['generic_key']],
      ['HTTP_ROUTE', null, ['remote_address']],
    ]);
  });

  it('treats an empty descriptor_key as unset (generic_key, header_match)', () => {
    const scan = vhost(`
- actions:
  - generic_key: { descriptor_key: "", descriptor_value: v }
  - header_value_match: { descriptor_key: "", descriptor_value: v, headers: [{ name: x }] }
`);
    expect(scan.errors).toEqual([]);
    expect(
      scan.rateLimits[0]?.rateLimits[0]?.actions.map((a) => ('descriptorKey' in a ? a.descriptorKey : '')),
    ).toEqual(['generic_key', 'header_match']);
  });

  it('warns about an entry’s limit and hits_addend, which meshlet does not apply', () => {
    const scan = vhost(`
- actions: [{ remote_address: {} }]
  limit: { dynamic_metadata: { metadata_key: { key: a, path: [{ key: b }] } } }
  hits_addend: { number: 2 }
`);
    expect(scan.errors).toEqual([]);
    expect(paths(scan.warnings)).toEqual([rl(0, 'limit'), rl(0, 'hits_addend')]);
    expect(scan.rateLimits[0]?.rateLimits).toHaveLength(1);
  });

  it('refuses a route include_vh_rate_limits that is not a boolean', () => {
    const scan = scanEnvoyFilter(
      spec(`
configPatches:
  - applyTo: HTTP_ROUTE
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { name: "inbound|http|9080" } } }
    patch:
      operation: MERGE
      value: { route: { include_vh_rate_limits: "yes", rate_limits: [{ actions: [{ remote_address: {} }] }] } }
`),
    );
    expect(paths(scan.errors)).toEqual(['spec.configPatches[0].patch.value.route.include_vh_rate_limits']);
  });

  it.each([
    ['v4_prefix_mask_len: 33', 'v4_prefix_mask_len', 'less than or equal to 32'],
    ['v6_prefix_mask_len: 129', 'v6_prefix_mask_len', 'less than or equal to 128'],
  ])('refuses masked_remote_address %s', (field, name, text) => {
    const scan = vhost(`- actions: [{ masked_remote_address: { ${field} } }]`);
    expect(scan.errors.map((e) => [formatPath(e.path), e.message.includes(text)])).toEqual([
      [rl(0, 'actions', 0, 'masked_remote_address', name), true],
    ]);
  });

  it('refuses an entry stage above 10, an entry without actions and an action with two specifiers', () => {
    expect(paths(vhost('- { stage: 11, actions: [{ remote_address: {} }] }').errors)).toEqual([
      rl(0, 'stage'),
    ]);
    expect(paths(vhost('- { actions: [] }').errors)).toEqual([rl(0, 'actions')]);
    expect(paths(vhost('- { stage: 1 }').errors)).toEqual([rl(0, 'actions')]);
    expect(paths(vhost('- actions: [{ remote_address: {}, source_cluster: {} }]').errors)).toEqual([
      rl(0, 'actions', 0),
    ]);
  });

  it.each([
    ['request_headers: { header_name: x }', 'descriptor_key'],
    ['request_headers: { descriptor_key: k }', 'header_name'],
    ['generic_key: {}', 'descriptor_value'],
    ['header_value_match: { headers: [{ name: x }] }', 'descriptor_value'],
    ['header_value_match: { descriptor_value: v }', 'headers'],
    ['query_parameters: { descriptor_key: k }', 'query_parameter_name'],
  ])('refuses %s without its required %s', (action, field) => {
    const kind = action.slice(0, action.indexOf(':'));
    const scan = vhost(`- actions: [{ ${action} }]`);
    expect(paths(scan.errors)).toContain(rl(0, 'actions', 0, kind, field));
  });

  it.each([
    ['metadata', '{ descriptor_key: k, metadata_key: { key: a, path: [{ key: b }] } }'],
    ['dynamic_metadata', '{ descriptor_key: k, metadata_key: { key: a, path: [{ key: b }] } }'],
    ['extension', '{ name: x, typed_config: { "@type": type.googleapis.com/google.protobuf.Struct } }'],
    [
      'query_parameter_value_match',
      '{ descriptor_value: v, query_parameters: [{ name: q, string_match: { exact: x } }] }',
    ],
  ])('warns about the unsupported %s action and drops its whole entry', (action, value) => {
    const scan = vhost(`
- actions:
  - generic_key: { descriptor_value: kept-out }
  - ${action}: ${value}
- actions:
  - generic_key: { descriptor_value: kept }
`);
    expect(scan.errors).toEqual([]);
    expect(paths(scan.warnings)).toEqual([rl(0, 'actions', 1, action)]);
    expect(scan.warnings[0]?.message).toContain('entry is ignored');
    expect(scan.rateLimits[0]?.rateLimits).toEqual([
      {
        stage: 0,
        disableKey: '',
        actions: [{ kind: 'generic_key', descriptorKey: 'generic_key', descriptorValue: 'kept' }],
      },
    ]);
  });

  /** The HeaderMatch of a header_value_match action with this one matcher. */
  function matcher(m: string) {
    const scan = vhost(`- actions: [{ header_value_match: { descriptor_value: v, headers: [${m}] } }]`);
    const action = scan.rateLimits[0]?.rateLimits[0]?.actions[0];
    return {
      scan,
      header: action?.kind === 'header_value_match' ? action.headers[0] : undefined,
    };
  }

  it('reads HeaderMatcher forms', () => {
    expect(matcher('{ name: X-H, string_match: { exact: AbC, ignore_case: true } }').header).toEqual({
      name: 'x-h',
      match: { kind: 'exact', value: 'abc', ignoreCase: true },
      invert: false,
      missingAsEmpty: false,
    });
    expect(matcher('{ name: x-h, string_match: { prefix: Ab } }').header?.match).toEqual({
      kind: 'prefix',
      value: 'Ab',
      ignoreCase: false,
    });
    expect(matcher('{ name: x-h, present_match: false }').header?.match).toEqual({
      kind: 'present',
      present: false,
    });
    expect(matcher('{ name: x-h, exact_match: abc }').header?.match).toEqual({
      kind: 'exact',
      value: 'abc',
      ignoreCase: false,
    });
    expect(matcher('{ name: x-h, suffix_match: z, invert_match: true }').header).toMatchObject({
      match: { kind: 'suffix', value: 'z' },
      invert: true,
    });
    expect(matcher('{ name: x-h, safe_regex_match: { regex: "a+" } }').header?.match.kind).toBe('regex');
    expect(matcher('{ name: x-h, string_match: { safe_regex: { regex: "a+" } } }').header?.match.kind).toBe(
      'regex',
    );
  });

  it.each([
    ['{ name: x-h, safe_regex_match: { regex: "(" } }', ['safe_regex_match', 'regex']],
    ['{ name: x-h, string_match: { safe_regex: { regex: "a[" } } }', ['string_match', 'safe_regex', 'regex']],
  ])('refuses an invalid regex in %s at its field', (m, at) => {
    const { scan } = matcher(m);
    expect(paths(scan.errors)).toEqual([rl(0, 'actions', 0, 'header_value_match', 'headers', 0, ...at)]);
  });

  it('refuses a matcher with two specifiers', () => {
    const { scan } = matcher('{ name: x-h, exact_match: a, prefix_match: b }');
    expect(paths(scan.errors)).toEqual([rl(0, 'actions', 0, 'header_value_match', 'headers', 0)]);
  });
});

/** One CLUSTER ADD patch with this cluster. */
function cluster(value: string): ReturnType<typeof scanEnvoyFilter> {
  return scanEnvoyFilter(
    spec(`
configPatches:
  - applyTo: CLUSTER
    match: { cluster: { service: ratelimit.default.svc.cluster.local } }
    patch:
      operation: ADD
      value:
${value
  .trim()
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
`),
  );
}

const LOAD_ASSIGNMENT = `load_assignment:
  cluster_name: rate_limit_cluster
  endpoints:
  - lb_endpoints:
    - endpoint: { address: { socket_address: { address: ratelimit.default.svc.cluster.local, port_value: 8081 } } }
    - endpoint: { address: { socket_address: { address: 10.0.0.9, port_value: 8082 } } }`;

describe('scanEnvoyFilter: CLUSTER ADD', () => {
  const VALUE = ['spec', 'configPatches', 0, 'patch', 'value'] as const;
  const at = (...rest: string[]) => formatPath([...VALUE, ...rest]);

  it('reads the cluster name and the endpoints of its load_assignment', () => {
    const scan = cluster(`name: rate_limit_cluster
type: STRICT_DNS
connect_timeout: 10s
lb_policy: ROUND_ROBIN
http2_protocol_options: {}
${LOAD_ASSIGNMENT}`);
    expect([scan.errors, scan.warnings, scan.unsupported]).toEqual([[], [], []]);
    expect(scan.clusters.map((c) => c.cluster)).toEqual([
      {
        name: 'rate_limit_cluster',
        endpoints: [
          { address: 'ratelimit.default.svc.cluster.local', port: 8081 },
          { address: '10.0.0.9', port: 8082 },
        ],
      },
    ]);
  });

  it('warns about a transport_socket and leaves the cluster out', () => {
    const scan = cluster(`name: c
transport_socket: { name: envoy.transport_sockets.tls }
${LOAD_ASSIGNMENT}`);
    expect(scan.clusters).toEqual([]);
    expect(paths(scan.warnings)).toEqual([at('transport_socket')]);
  });

  it('warns about a cluster without load_assignment and leaves it out', () => {
    const scan = cluster('name: c\ntype: STRICT_DNS');
    expect(scan.clusters).toEqual([]);
    expect(scan.errors).toEqual([]);
    expect(scan.warnings).toHaveLength(1);
    expect(scan.warnings[0]?.message).toContain('load_assignment');
  });

  it.each(['EDS', 'ORIGINAL_DST'])('warns about a cluster of type %s and leaves it out', (type) => {
    const scan = cluster(`name: c\ntype: ${type}\n${LOAD_ASSIGNMENT}`);
    expect(scan.clusters).toEqual([]);
    expect(paths(scan.warnings)).toEqual([at('type')]);
  });
});

describe('EnvoyFilter validate: the global rate limit', () => {
  it('accepts the task filter and its virtual host patch with no Error and no MESHLET0007', () => {
    for (const text of [TASK_FILTER, TASK_VHOST]) {
      const f = validate('EnvoyFilter', parseDocument(text).toJS());
      expect(f.filter((x) => x.level === 'Error')).toEqual([]);
      expect(f.filter((x) => x.code === 'MESHLET0007')).toEqual([]);
    }
  });

  it.each([
    ['missing', undefined],
    ['V2', 'V2'],
  ])('transport_api_version %s: one MESHLET0007 warning at the field, no Error', (_what, version) => {
    const tc = body({
      rate_limit_service: {
        grpc_service: { envoy_grpc: { cluster_name: 'c' } },
        ...(version === undefined ? {} : { transport_api_version: version }),
      },
    });
    const f = validate('EnvoyFilter', filterSpec(tc));
    expect(f.filter((x) => x.level === 'Error')).toEqual([]);
    const notices = f.filter((x) => x.code === 'MESHLET0007');
    expect(notices.map((x) => [x.level, formatPath(x.path)])).toEqual([
      ['Warning', 'spec.configPatches[0].patch.value.typed_config.rate_limit_service.transport_api_version'],
    ]);
    expect(notices[0]?.message).toContain('transport_api_version');
  });

  it('reports an invalid global config as an Error at its field', () => {
    const f = validate('EnvoyFilter', filterSpec(body({ stage: 11 })));
    expect(f.filter((x) => x.level === 'Error').map((x) => formatPath(x.path))).toEqual([
      'spec.configPatches[0].patch.value.typed_config.stage',
    ]);
  });

  it('reports unsupported actions and fields as MESHLET0004 warnings', () => {
    const f = validate('EnvoyFilter', filterSpec(body({ domain_template: 'x' })));
    expect(f.filter((x) => x.code === 'MESHLET0004').map((x) => formatPath(x.path))).toContain(
      'spec.configPatches[0].patch.value.typed_config.domain_template',
    );
  });

  it('validates the bookinfo sample with no Error and one MESHLET0007 naming transport_api_version', () => {
    const file = path.join(SAMPLES, 'bookinfo-policy/productpage_envoy_ratelimit.yaml');
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map(
      (d) => d.toJS() as { kind?: string; spec?: unknown },
    );
    const filters = docs.filter((d) => d.kind === 'EnvoyFilter');
    expect(filters).toHaveLength(2);
    const findings = filters.flatMap((d) => validate('EnvoyFilter', d.spec, 'istio-system'));
    expect(findings.filter((x) => x.level === 'Error')).toEqual([]);
    const notices = findings.filter((x) => x.code === 'MESHLET0007');
    expect(notices).toHaveLength(1);
    expect(notices[0]?.message).toContain('transport_api_version');
    expect(formatPath(notices[0]!.path)).toBe(
      'spec.configPatches[0].patch.value.typed_config.rate_limit_service.transport_api_version',
    );
    // The sample's cluster is read: STRICT_DNS with one endpoint.
    const scan = scanEnvoyFilter(envoyFilterSpec.parse(filters[0]!.spec));
    expect(scan.clusters.map((c) => c.cluster)).toEqual([
      {
        name: 'rate_limit_cluster',
        endpoints: [{ address: 'ratelimit.default.svc.cluster.local', port: 8081 }],
      },
    ]);
    // Its filter is valid but not applied: Envoy refuses it without transport_api_version V3.
    expect(scan.globals.map((g) => [g.filterName, g.config.domain, g.config.service])).toEqual([
      ['envoy.ratelimit', 'productpage-ratelimit', null],
    ]);
  });
});
