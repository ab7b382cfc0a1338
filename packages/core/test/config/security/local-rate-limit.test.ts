import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { envoyFilterSpec, type EnvoyFilterSpec } from '../../../src/config/schema/envoy-filter.js';
import { extractLocalRateLimits } from '../../../src/config/schema/local-rate-limit-patches.js';
import { parseLocalRateLimit } from '../../../src/config/schema/local-rate-limit.js';
import { validate } from './samples.js';

// Written after the istio.io task "Enabling Rate Limits using Envoy" (local rate limit section).
const TASK_FILTER = `
workloadSelector:
  labels:
    app: productpage
configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: "envoy.filters.network.http_connection_manager"
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket:
              max_tokens: 4
              tokens_per_fill: 4
              fill_interval: 60s
            filter_enabled:
              runtime_key: local_rate_limit_enabled
              default_value:
                numerator: 100
                denominator: HUNDRED
            filter_enforced:
              runtime_key: local_rate_limit_enforced
              default_value:
                numerator: 100
                denominator: HUNDRED
            response_headers_to_add:
              - append: false
                header:
                  key: x-local-rate-limit
                  value: 'true'
`;

const TASK_ROUTE = `
workloadSelector:
  labels:
    app: productpage
configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: "envoy.filters.network.http_connection_manager"
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
  - applyTo: HTTP_ROUTE
    match:
      context: SIDECAR_INBOUND
      routeConfiguration:
        vhost:
          name: "inbound|http|9080"
          route:
            action: ANY
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 4
                tokens_per_fill: 4
                fill_interval: 60s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
`;

function spec(text: string): EnvoyFilterSpec {
  return envoyFilterSpec.parse(parseDocument(text).toJS());
}

const DIRECT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

describe('extractLocalRateLimits', () => {
  it('reads the istio.io task filter into a typed config when given as a TypedStruct', () => {
    const { patches, unsupported } = extractLocalRateLimits(spec(TASK_FILTER));
    expect(unsupported).toEqual([]);
    expect(patches).toHaveLength(1);
    const p = patches[0]!;
    expect(p).toMatchObject({
      applyTo: 'HTTP_FILTER',
      operation: 'INSERT_BEFORE',
      context: 'SIDECAR_INBOUND',
      filterName: 'envoy.filters.http.local_ratelimit',
    });
    expect(p.config).toMatchObject({
      statPrefix: 'http_local_rate_limiter',
      status: 429,
      tokenBucket: { maxTokens: 4, tokensPerFill: 4, fillIntervalMs: 60_000 },
      filterEnabled: 1,
      filterEnforced: 1,
      responseHeadersToAdd: [
        {
          key: 'x-local-rate-limit',
          value: 'true',
          appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD',
          keepEmptyValue: false,
        },
      ],
      alwaysConsumeDefaultTokenBucket: true,
      localRateLimitPerDownstreamConnection: false,
    });
    expect(Object.isFrozen(p.config)).toBe(true);
  });

  it('returns the filter and the per-route config of the route-level task', () => {
    const { patches } = extractLocalRateLimits(spec(TASK_ROUTE));
    expect(patches.map((p) => [p.applyTo, p.filterName, p.config.tokenBucket?.maxTokens ?? null])).toEqual([
      ['HTTP_FILTER', 'envoy.filters.http.local_ratelimit', null],
      ['HTTP_ROUTE', 'envoy.filters.http.local_ratelimit', 4],
    ]);
    // The listener-level filter has no filter_enabled: Envoy treats it as 0% enabled.
    expect(patches[0]!.config.filterEnabled).toBe(0);
    expect(patches[1]!.match?.routeConfiguration?.vhost?.name).toBe('inbound|http|9080');
  });

  it('reports every other patch as unsupported with its path', () => {
    const s = spec(`
configPatches:
  - applyTo: CLUSTER
    patch: { operation: MERGE, value: { name: c } }
  - applyTo: HTTP_FILTER
    patch: { operation: INSERT_BEFORE, value: { name: envoy.filters.http.ext_authz, typed_config: { "@type": x } } }
`);
    const { patches, unsupported } = extractLocalRateLimits(s);
    expect(patches).toEqual([]);
    expect(unsupported.map((u) => formatPath(u.path))).toEqual([
      'spec.configPatches[0]',
      'spec.configPatches[1]',
    ]);
    expect(unsupported[1]!.reason).toContain('envoy.filters.http.ext_authz is not supported by meshlet');
  });
});

describe('parseLocalRateLimit', () => {
  const parse = (body: Record<string, unknown>) => parseLocalRateLimit({ '@type': DIRECT, ...body }, ['tc']);

  it('accepts the direct @type form and camelCase field names', () => {
    const r = parse({ statPrefix: 'p', tokenBucket: { maxTokens: '10', fillInterval: '0.5s' } });
    expect(r.errors).toEqual([]);
    expect(r.config?.tokenBucket).toEqual({ maxTokens: 10, tokensPerFill: 1, fillIntervalMs: 500 });
  });

  it.each([
    [{ status: { code: 503 } }, 503],
    [{ status: { code: 'ServiceUnavailable' } }, 503],
    [{ status: { code: 200 } }, 429],
    [{}, 429],
  ])('maps status %j to %i', (extra, status) => {
    expect(parse({ stat_prefix: 'p', ...extra }).config?.status).toBe(status);
  });

  it.each([
    [{ numerator: 50 }, 0.5],
    [{ numerator: 25, denominator: 'TEN_THOUSAND' }, 0.0025],
    [{ numerator: 5, denominator: 'MILLION' }, 0.000005],
    [{ numerator: 300, denominator: 'HUNDRED' }, 1],
  ])('turns filter_enforced %j into probability %d', (defaultValue, p) => {
    expect(
      parse({ stat_prefix: 'p', filter_enforced: { default_value: defaultValue } }).config?.filterEnforced,
    ).toBeCloseTo(p, 9);
  });

  it('reads descriptors, x-ratelimit headers and the bucket options', () => {
    const r = parse({
      stat_prefix: 'p',
      descriptors: [
        { entries: [{ key: 'path', value: '/a' }], token_bucket: { max_tokens: 2, fill_interval: '1s' } },
      ],
      enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
      local_rate_limit_per_downstream_connection: true,
      always_consume_default_token_bucket: false,
      request_headers_to_add_when_not_enforced: [
        { header: { key: 'X-Would-Limit', value: '1' }, append_action: 'ADD_IF_ABSENT' },
      ],
    });
    expect(r.errors).toEqual([]);
    expect(r.config).toMatchObject({
      descriptors: [
        {
          entries: [{ key: 'path', value: '/a' }],
          tokenBucket: { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 },
        },
      ],
      enableXRateLimitHeaders: 'DRAFT_VERSION_03',
      localRateLimitPerDownstreamConnection: true,
      alwaysConsumeDefaultTokenBucket: false,
      requestHeadersToAddWhenNotEnforced: [
        { key: 'x-would-limit', value: '1', appendAction: 'ADD_IF_ABSENT' },
      ],
    });
  });

  it.each([
    [{}, 'tc.stat_prefix', 'stat_prefix is required'],
    [
      { stat_prefix: 'p', token_bucket: { max_tokens: 1, fill_interval: '0.02s' } },
      'tc.token_bucket.fill_interval',
      '>= 50ms',
    ],
    [
      { stat_prefix: 'p', token_bucket: { max_tokens: 1, fill_interval: '1m' } },
      'tc.token_bucket.fill_interval',
      'is not a google.protobuf.Duration',
    ],
    [
      { stat_prefix: 'p', token_bucket: { max_tokens: 0, fill_interval: '1s' } },
      'tc.token_bucket.max_tokens',
      'greater than 0',
    ],
    [
      { stat_prefix: 'p', token_bucket: { max_tokens: 1 } },
      'tc.token_bucket.fill_interval',
      'Required value',
    ],
    [{ stat_prefix: 'p', status: { code: 299 } }, 'tc.status.code', 'not a defined envoy.type.v3.StatusCode'],
    [
      { stat_prefix: 'p', filter_enabled: { runtime_key: 'k' } },
      'tc.filter_enabled.default_value',
      'Required value',
    ],
    [
      {
        stat_prefix: 'p',
        response_headers_to_add: Array.from({ length: 11 }, () => ({ header: { key: 'a', value: 'b' } })),
      },
      'tc.response_headers_to_add',
      'no more than 10',
    ],
    [
      {
        stat_prefix: 'p',
        response_headers_to_add: [{ header: { key: 'a' }, append: true, append_action: 'ADD_IF_ABSENT' }],
      },
      'tc.response_headers_to_add[0]',
      'Both append and append_action',
    ],
    [
      {
        stat_prefix: 'p',
        descriptors: [{ entries: [], token_bucket: { max_tokens: 1, fill_interval: '1s' } }],
      },
      'tc.descriptors[0].entries',
      'at least 1',
    ],
    [
      { stat_prefix: 'p', enable_x_ratelimit_headers: 'DRAFT_VERSION_99' },
      'tc.enable_x_ratelimit_headers',
      'Unsupported value',
    ],
  ])('rejects %j at %s', (body, path, text) => {
    const r = parse(body);
    expect(r.config).toBeNull();
    expect(r.errors.map((e) => [formatPath(e.path), e.message.includes(text)])).toContainEqual([path, true]);
  });

  it('warns about unknown fields instead of failing, as Istio does', () => {
    const r = parse({ stat_prefix: 'p', bogus: 1 });
    expect(r.config).not.toBeNull();
    expect(r.warnings.map((w) => formatPath(w.path))).toEqual(['tc.bogus']);
  });
});

describe('EnvoyFilter validate', () => {
  it('accepts the task filter with no finding', () => {
    expect(validate('EnvoyFilter', parseDocument(TASK_ROUTE).toJS())).toEqual([]);
  });

  it('reports an invalid local rate limit as an Error at its field', () => {
    const s = parseDocument(TASK_FILTER.replace('fill_interval: 60s', 'fill_interval: 0.01s')).toJS();
    const errors = validate('EnvoyFilter', s).filter((f) => f.level === 'Error');
    expect(errors.map((e) => formatPath(e.path))).toEqual([
      'spec.configPatches[0].patch.value.typed_config.value.token_bucket.fill_interval',
    ]);
  });

  it('refuses a global rate limit filter without its typed_config, at the field', () => {
    const s = parseDocument(`
configPatches:
  - applyTo: HTTP_FILTER
    patch: { operation: INSERT_BEFORE, value: { name: envoy.filters.http.ratelimit } }
`).toJS();
    const f = validate('EnvoyFilter', s);
    expect(f.map((x) => [x.level, formatPath(x.path), x.message])).toEqual([
      [
        'Error',
        'spec.configPatches[0].patch.value.typed_config',
        'Required value: typed_config is required for envoy.filters.http.ratelimit',
      ],
    ]);
  });
});
