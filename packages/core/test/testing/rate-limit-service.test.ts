import { describe, expect, it } from 'vitest';
import { isMeshletError, type MeshletError } from '../../src/errors/meshlet-error.js';
import type { RateLimitResponse } from '../../src/inbound/ratelimit/rls-messages.js';
import {
  createRateLimitService,
  type InMemoryRateLimitService,
  type RateLimitCall,
  type RateLimitConfigInput,
} from '../../src/testing/rate-limit-service.js';

// The in-memory envoyproxy/ratelimit, called directly (the gRPC test server's tests call it
// through @grpc/grpc-js: test/helpers/rate-limit-grpc-server.test.ts).

/** 2026-01-01T00:00:00Z plus `s` seconds, in ms: a minute, hour and day boundary. */
const at = (s: number): number => (1_767_225_600 + s) * 1000;
const T0 = 1_767_225_600;

type Entries = readonly (readonly [string, string])[];

interface Harness {
  readonly rls: InMemoryRateLimitService;
  /** One call; each element of `d` is a descriptor's `[key, value]` entries. */
  readonly call: (domain: string, d: readonly Entries[], extra?: Partial<RateLimitCall>) => RateLimitResponse;
  readonly setNow: (ms: number) => void;
}

function serve(config: RateLimitConfigInput, o: { now?: number; globalShadowMode?: boolean } = {}): Harness {
  let now = o.now ?? at(0);
  const rls = createRateLimitService({
    config,
    now: () => now,
    ...(o.globalShadowMode === undefined ? {} : { globalShadowMode: o.globalShadowMode }),
  });
  return {
    rls,
    call: (domain, d, extra = {}) =>
      rls.shouldRateLimit({
        domain,
        descriptors: d.map((entries) => ({ entries: entries.map(([key, value]) => ({ key, value })) })),
        ...extra,
      }),
    setNow: (ms) => {
      now = ms;
    },
  };
}

/** The code of each status, then the overall code last. */
const codes = (r: RateLimitResponse): string[] => [...r.statuses.map((s) => s.code), r.overallCode];

/** The MeshletError `f` throws. */
function thrown(f: () => unknown): MeshletError {
  try {
    f();
  } catch (err) {
    if (isMeshletError(err)) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('in-memory rate limit service: envoyproxy/ratelimit semantics', () => {
  it('prefers key+value over the key-only default, counting each value apart, and answers the full response', () => {
    const { call, rls } = serve(`
domain: edge
descriptors:
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 2 }
  - key: remote_address
    value: 50.0.0.5
    rate_limit: { unit: second, requests_per_unit: 1, name: vip }
`);
    const ip = (v: string) => call('edge', [[['remote_address', v]]]).overallCode;
    expect([ip('50.0.0.5'), ip('50.0.0.5')]).toEqual(['OK', 'OVER_LIMIT']);
    expect([ip('10.0.0.1'), ip('10.0.0.1'), ip('10.0.0.1')]).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    expect(call('edge', [[['remote_address', '10.0.0.2']]])).toEqual({
      overallCode: 'OK',
      statuses: [
        {
          code: 'OK',
          currentLimit: { name: '', requestsPerUnit: 2, unit: 'SECOND' },
          limitRemaining: 1,
          durationUntilResetMs: 1000,
        },
      ],
      responseHeadersToAdd: [],
      requestHeadersToAdd: [],
      rawBody: null,
    });
    expect(call('edge', [[['remote_address', '50.0.0.5']]]).statuses[0]?.currentLimit?.name).toBe('vip');
    expect(Object.fromEntries(rls.counters)).toEqual({
      [`edge_remote_address_50.0.0.5_${T0}`]: 3,
      [`edge_remote_address_10.0.0.1_${T0}`]: 3,
      [`edge_remote_address_10.0.0.2_${T0}`]: 1,
    });
  });

  it('applies a limit only at the depth of the request descriptor (README example 4)', () => {
    const { call, rls } = serve({
      domain: 'messaging',
      descriptors: [
        {
          key: 'message_type',
          value: 'marketing',
          descriptors: [{ key: 'to_number', rate_limit: { unit: 'day', requests_per_unit: 1 } }],
        },
        { key: 'to_number', rate_limit: { unit: 'day', requests_per_unit: 0 } },
      ],
    });
    const nested: Entries = [
      ['message_type', 'marketing'],
      ['to_number', '2061111111'],
    ];
    expect([call('messaging', [nested]), call('messaging', [nested])].map((r) => r.overallCode)).toEqual([
      'OK',
      'OVER_LIMIT',
    ]);
    const unlimitedStatus = {
      code: 'OK',
      currentLimit: null,
      limitRemaining: 0,
      durationUntilResetMs: null,
    };
    for (const d of [
      [['message_type', 'marketing']],
      [
        ['to_number', '1'],
        ['extra', 'x'],
      ],
      [
        ['message_type', 'transactional'],
        ['to_number', '1'],
      ],
    ] as const)
      expect(call('messaging', [d]).statuses).toEqual([unlimitedStatus]);
    expect(call('messaging', [[['to_number', '1']]]).overallCode).toBe('OVER_LIMIT');
    expect([...rls.counters.keys()]).toEqual([
      `messaging_message_type_marketing_to_number_2061111111_${T0}`,
      `messaging_to_number_1_${T0}`,
    ]);
  });

  it('matches `*` as a wildcard after exact values, counting each value apart unless share_threshold', () => {
    const { call, rls } = serve(`
domain: w
descriptors:
  - key: path
    value: /api/*
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: path
    value: /api/free
    rate_limit: { unlimited: true }
  - key: route
    value: /v1/*/action
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: files
    value: files/*
    share_threshold: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
`);
    const one = (k: string, v: string) => codes(call('w', [[[k, v]]]));
    expect([one('path', '/api/a'), one('path', '/api/a'), one('path', '/api/b')]).toEqual([
      ['OK', 'OK'],
      ['OVER_LIMIT', 'OVER_LIMIT'],
      ['OK', 'OK'],
    ]);
    expect(call('w', [[['path', '/api/free']]]).statuses[0]?.limitRemaining).toBe(0xffff_ffff);
    expect(call('w', [[['path', '/other']]]).statuses[0]?.currentLimit).toBeNull();
    expect(call('w', [[['route', '/v1/x/action']]]).statuses[0]?.currentLimit?.requestsPerUnit).toBe(1);
    expect(call('w', [[['route', '/v1/x/other']]]).statuses[0]?.currentLimit).toBeNull();
    expect([one('files', 'files/a.pdf'), one('files', 'files/b.csv')]).toEqual([
      ['OK', 'OK'],
      ['OVER_LIMIT', 'OVER_LIMIT'],
    ]);
    // share_threshold: one counter under the pattern, not one per value.
    expect(rls.counters.get(`w_files_files/*_${T0}`)).toBe(2);
    expect([...rls.counters.keys()].filter((k) => k.startsWith('w_files_'))).toHaveLength(1);
  });

  it('counts in fixed windows on the clock and reports the time to the next in ms', () => {
    const { call, setNow, rls } = serve(
      { domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit: 'Minute', requests_per_unit: 2 } }] },
      { now: at(30.9) },
    );
    const one = () => call('d', [[['k', 'v']]]);
    const first = [one(), one(), one()];
    expect(first.map((r) => [r.overallCode, r.statuses[0]?.limitRemaining])).toEqual([
      ['OK', 1],
      ['OK', 0],
      ['OVER_LIMIT', 0],
    ]);
    expect(first[2]?.statuses[0]?.durationUntilResetMs).toBe(30_000);
    setNow(at(59.999));
    expect(one().overallCode).toBe('OVER_LIMIT');
    expect(Object.fromEntries(rls.counters)).toEqual({ [`d_k_v_${T0}`]: 4 });
    setNow(at(60));
    const next = one();
    expect(next.overallCode).toBe('OK');
    expect(next.statuses[0]?.durationUntilResetMs).toBe(60_000);
  });

  it('drops the counters of windows that ended, so a long test does not grow them', () => {
    const { call, setNow, rls } = serve(`
domain: d
descriptors:
  - { key: s, rate_limit: { unit: second, requests_per_unit: 5 } }
  - { key: m, rate_limit: { unit: minute, requests_per_unit: 500 } }
`);
    for (let s = 0; s < 600; s++) {
      setNow(at(s));
      call('d', [[['s', `v${s % 7}`]], [['m', 'v']]]);
      // At most this second's counter and this minute's.
      expect(rls.counters.size).toBeLessThanOrEqual(2);
    }
    expect(Object.fromEntries(rls.counters)).toEqual({
      [`d_s_v${599 % 7}_${T0 + 599}`]: 1,
      [`d_m_v_${T0 + 540}`]: 60,
    });
    // Reading the counters drops the ended windows too, with no call in between.
    setNow(at(600));
    expect(rls.counters.size).toBe(0);
    // A counter dropped was for a window that ended: the next one counts afresh.
    expect(call('d', [[['m', 'v']]]).statuses[0]?.limitRemaining).toBe(499);
  });

  it('blocks with requests_per_unit 0, never limits unlimited, and is OVER_LIMIT if any descriptor is', () => {
    const { call, rls } = serve(`
domain: internal
descriptors:
  - key: blocked
    rate_limit: { unit: hour, requests_per_unit: 0 }
  - key: ldap
    rate_limit: { unlimited: true }
  - key: azure
    rate_limit: { unit: minute, requests_per_unit: 100 }
`);
    expect(call('internal', [[['blocked', 'x']]]).statuses[0]).toEqual({
      code: 'OVER_LIMIT',
      currentLimit: { name: '', requestsPerUnit: 0, unit: 'HOUR' },
      limitRemaining: 0,
      durationUntilResetMs: 3_600_000,
    });
    expect(call('internal', [[['ldap', 'x']]]).statuses[0]).toEqual({
      code: 'OK',
      currentLimit: null,
      limitRemaining: 0xffff_ffff,
      durationUntilResetMs: null,
    });
    const several = call('internal', [
      [['azure', 'x']],
      [['ldap', 'x']],
      [['blocked', 'y']],
      [['none', 'x']],
    ]);
    expect(codes(several)).toEqual(['OK', 'OK', 'OVER_LIMIT', 'OK', 'OVER_LIMIT']);
    expect(several.statuses[0]?.limitRemaining).toBe(99);
    // Unlimited and unmatched descriptors are not counted.
    expect([...rls.counters.keys()].map((k) => k.replace(/_\d+$/, ''))).toEqual([
      'internal_blocked_x',
      'internal_azure_x',
      'internal_blocked_y',
    ]);
  });

  it('answers a shadow_mode limit OK with the remaining at 0, and the global shadow mode overall OK', () => {
    const config = `
domain: s
descriptors:
  - key: user
    value: a
    shadow_mode: true
    rate_limit: { requests_per_unit: 1, unit: second }
  - key: user
    value: b
    rate_limit: { requests_per_unit: 1, unit: second }
`;
    const { call } = serve(config);
    expect([1, 2, 3].map(() => call('s', [[['user', 'a']]]).statuses[0])).toEqual(
      [1, 2, 3].map(() => ({
        code: 'OK',
        currentLimit: { name: '', requestsPerUnit: 1, unit: 'SECOND' },
        limitRemaining: 0,
        durationUntilResetMs: 1000,
      })),
    );
    expect([codes(call('s', [[['user', 'b']]])), codes(call('s', [[['user', 'b']]]))]).toEqual([
      ['OK', 'OK'],
      ['OVER_LIMIT', 'OVER_LIMIT'],
    ]);
    const global = serve(config, { globalShadowMode: true });
    global.call('s', [[['user', 'b']]]);
    expect(codes(global.call('s', [[['user', 'b']]]))).toEqual(['OVER_LIMIT', 'OK']);
  });

  it('is OVER_LIMIT for quota_mode limits only when every one of them is over', () => {
    const { call } = serve(`
domain: q
descriptors:
  - { key: a, quota_mode: true, rate_limit: { unit: second, requests_per_unit: 0 } }
  - { key: b, quota_mode: true, rate_limit: { unit: second, requests_per_unit: 5 } }
  - { key: c, rate_limit: { unit: second, requests_per_unit: 5 } }
`);
    expect(codes(call('q', [[['a', '1']], [['b', '1']]]))).toEqual(['OVER_LIMIT', 'OK', 'OK']);
    expect(codes(call('q', [[['a', '2']], [['c', '1']]]))).toEqual(['OVER_LIMIT', 'OK', 'OVER_LIMIT']);
    expect(codes(call('q', [[['a', '3']]]))).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
  });

  it('adds hits_addend: the request’s (at least 1), or the descriptor’s own (0 allowed)', () => {
    const { call } = serve({
      domain: 'd',
      descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 10 } }],
    });
    const remaining = (r: RateLimitResponse) => r.statuses.map((s) => s.limitRemaining);
    expect(remaining(call('d', [[['k', 'v']]], { hitsAddend: 4 }))).toEqual([6]);
    expect(remaining(call('d', [[['k', 'v']]], { hitsAddend: 0 }))).toEqual([5]);
    expect(remaining(call('d', [[['k', 'v']]]))).toEqual([4]);
    const entries = [{ key: 'k', value: 'v' }];
    expect(
      remaining(
        call('d', [], {
          descriptors: [
            { entries, hitsAddend: 0 },
            { entries, hitsAddend: 2 },
            { entries, hitsAddend: null },
          ],
          hitsAddend: 1,
        }),
      ),
    ).toEqual([4, 2, 1]);
  });

  it('drops a limit another matched limit replaces (README example 7), and takes a limit override', () => {
    const { call, rls } = serve(`
domain: r
descriptors:
  - key: key_1
    descriptors:
      - { key: user, rate_limit: { name: specific_limit, requests_per_unit: 5, unit: second } }
  - key: key_2
    descriptors:
      - key: user
        rate_limit: { replaces: [{ name: specific_limit }], requests_per_unit: 10, unit: second }
`);
    const user = (k: string): Entries => [
      [k, 'x'],
      ['user', 'u'],
    ];
    expect(
      call('r', [user('key_1'), user('key_2')]).statuses.map((s) => s.currentLimit?.requestsPerUnit ?? null),
    ).toEqual([null, 10]);
    // Alone, the replaced limit applies.
    expect(call('r', [user('key_1')]).statuses[0]?.currentLimit?.name).toBe('specific_limit');
    const override = call('r', [], {
      descriptors: [{ entries: [{ key: 'any', value: 'x' }], limit: { requestsPerUnit: 3, unit: 'HOUR' } }],
    });
    expect(override.statuses[0]).toEqual({
      code: 'OK',
      currentLimit: { name: '', requestsPerUnit: 3, unit: 'HOUR' },
      limitRemaining: 2,
      durationUntilResetMs: 3_600_000,
    });
    // An unknown domain has no limit, override or not.
    const unknown = call('nope', [], {
      descriptors: [{ entries: [{ key: 'any', value: 'x' }], limit: { requestsPerUnit: 0, unit: 'HOUR' } }],
    });
    expect(codes(unknown)).toEqual(['OK', 'OK']);
    expect(rls.counters.has(`r_any_x_${T0}`)).toBe(true);
    expect(rls.counters.has(`nope_any_x_${T0}`)).toBe(false);
  });

  it('answers an unknown domain OK and refuses what envoyproxy/ratelimit answers with an error', () => {
    const { call, rls } = serve([]);
    expect(codes(call('nope', [[['k', 'v']], [['a', 'b']]]))).toEqual(['OK', 'OK', 'OK']);
    const refused = (c: RateLimitCall) => {
      const err = thrown(() => rls.shouldRateLimit(c));
      return [err.code, err.message];
    };
    const d = [{ entries: [{ key: 'k', value: 'v' }] }];
    expect(refused({ domain: '', descriptors: d })).toEqual([
      'MESHLET_ERR_RATELIMIT_REQUEST',
      'rate limit domain must not be empty',
    ]);
    expect(refused({ domain: 'nope', descriptors: [] })).toEqual([
      'MESHLET_ERR_RATELIMIT_REQUEST',
      'rate limit descriptor list must not be empty',
    ]);
    expect(refused({ domain: 'nope', descriptors: d, hitsAddend: -1 })).toEqual([
      'MESHLET_ERR_RATELIMIT_REQUEST',
      'hits_addend -1 is not a uint32',
    ]);
    expect(refused({ domain: 'nope', descriptors: [...d, { ...d[0]!, hitsAddend: 1.5 }] })).toEqual([
      'MESHLET_ERR_RATELIMIT_REQUEST',
      'descriptor 1: hits_addend 1.5 is not a uint64',
    ]);
    expect(
      refused({
        domain: 'nope',
        descriptors: [{ ...d[0]!, limit: { requestsPerUnit: 2 ** 32, unit: 'SECOND' } }],
      }),
    ).toEqual([
      'MESHLET_ERR_RATELIMIT_REQUEST',
      'descriptor 0: limit requests_per_unit 4294967296 is not a uint32',
    ]);
  });

  it('refuses a limit override without a unit before it counts anything', () => {
    const { rls } = serve({
      domain: 'd',
      descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 9 } }],
    });
    const err = thrown(() =>
      rls.shouldRateLimit({
        domain: 'd',
        descriptors: [
          { entries: [{ key: 'k', value: 'v' }] },
          { entries: [{ key: 'k', value: 'w' }], limit: { requestsPerUnit: 1, unit: 'UNKNOWN' } },
        ],
      }),
    );
    expect([err.code, err.message, err.details]).toEqual([
      'MESHLET_ERR_RATELIMIT_REQUEST',
      'descriptor 1: the limit override has unit UNKNOWN',
      { descriptor: 1 },
    ]);
    expect(rls.counters.size).toBe(0);
  });
});

describe('in-memory rate limit service: configuration', () => {
  it('loads several domains from YAML documents and objects, and reloads keeping the counters', () => {
    const { call, rls } = serve([
      `
domain: one
descriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: 1 } }]
---
domain: two
descriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: 0 } }]
`,
      { domain: 'three', descriptors: [{ key: 'k', rate_limit: { unit: 'SECOND', requests_per_unit: 0 } }] },
    ]);
    expect(['one', 'two', 'three'].map((d) => call(d, [[['k', 'v']]]).overallCode)).toEqual([
      'OK',
      'OVER_LIMIT',
      'OVER_LIMIT',
    ]);
    rls.setConfig({
      domain: 'one',
      descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 2 } }],
    });
    // The counter stayed (1 hit), the new limit applies.
    expect(call('one', [[['k', 'v']]]).statuses[0]).toMatchObject({ code: 'OK', limitRemaining: 0 });
    expect(call('two', [[['k', 'v']]]).statuses[0]?.currentLimit).toBeNull();
  });

  it('refuses what envoyproxy/ratelimit refuses, with MESHLET_ERR_RATELIMIT_CONFIG, keeping the old config', () => {
    const { call, rls } = serve({
      domain: 'd',
      descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 0 } }],
    });
    const cases: readonly (readonly [RateLimitConfigInput, string])[] = [
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: fortnight, requests_per_unit: 1 } }]',
        "invalid rate limit unit 'fortnight'",
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { requests_per_unit: 1 } }]',
        "invalid rate limit unit ''",
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: second, unlimited: true } }]',
        'should not specify rate limit unit when unlimited',
      ],
      [
        'domain: d\ndescriptors: [{ key: a, descriptors: [{ key: k }, { key: k }] }]',
        "duplicate descriptor composite key 'd.a.k'",
      ],
      [
        'domain: d\ndescriptors: [{ key: k, value: v }, { key: k, value: v }]',
        "duplicate descriptor composite key 'd.k_v'",
      ],
      ['domain: d\ndescriptors: [{ key: k, vaule: v }]', "config error, unknown key 'vaule'"],
      [
        'domain: d\ndescriptors: [k]',
        'config error, yaml file contains list of type other than map: !!str `k`',
      ],
      ['domain: d\ndescriptors: [{ key: "" }]', 'descriptor has empty key'],
      [
        'domain: d\ndescriptors: [{ key: k, value: v, share_threshold: true }]',
        "share_threshold can only be used with wildcard values (containing '*'), but found key 'k_v'",
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { name: n, unit: second, replaces: [{ name: n }] } }]',
        'replaces should not contain name of same descriptor',
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: second, replaces: [{ name: "" }] } }]',
        'should not have an empty replaces entry',
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: -1 } }]',
        'error loading config file: cannot unmarshal !!int `-1` into uint32',
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: 4294967296 } }]',
        'error loading config file: cannot unmarshal !!int `4294967296` into uint32',
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: 5 }]',
        'error loading config file: cannot unmarshal !!int `5` into config.YamlRateLimit',
      ],
      [
        'domain: d\ndescriptors: [{ key: k, shadow_mode: "true" }]',
        'error loading config file: cannot unmarshal !!str `true` into bool',
      ],
      [
        'domain: d\ndescriptors: { key: k }',
        'error loading config file: cannot unmarshal !!map into []config.YamlDescriptor',
      ],
      ['descriptors: []', 'config file cannot have empty domain'],
      ['', 'config file cannot have empty domain'],
      ['- domain: d', 'error loading config file: cannot unmarshal !!seq into map[interface {}]interface {}'],
      ['domain: d\n---\ndomain: d', "duplicate domain 'd' in config file"],
      ['domain: [', 'error loading config file: '],
      ['domain: d\ndomain: e', 'error loading config file: Map keys must be unique at line 2, column 1'],
      ['domain: d\n1: x', 'config error, key is not of type string: 1'],
      // YAML 1.1, as yaml.v2: a float is no leaf envoyproxy/ratelimit takes.
      ['domain: d\ndescriptors: [{ key: version, value: 1.10 }]', 'error checking config'],
      ['domain: d\ndescriptors: [{ key: version, value: 2.0 }]', 'error checking config'],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: 1e3 } }]',
        'error checking config',
      ],
      [
        'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
        'error loading config file: ',
      ],
      [
        'domain: d\ndescriptors: &x [{ key: k, descriptors: *x }]',
        'error loading config file: nested too deeply',
      ],
      [
        { domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 1.5 } }] },
        'error checking config',
      ],
      [[null] as unknown as RateLimitConfigInput, 'expected YAML text or a configuration object, got null'],
    ];
    for (const [bad, message] of cases) {
      const err = thrown(() => rls.setConfig(bad));
      const label = JSON.stringify(bad);
      expect([err.code, err.message], label).toEqual([
        'MESHLET_ERR_RATELIMIT_CONFIG',
        expect.stringMatching(/^rate limit config document \d+: /) as string,
      ]);
      expect(err.message, label).toContain(message);
    }
    // A refused reload keeps the configuration it had.
    expect(call('d', [[['k', 'v']]]).overallCode).toBe('OVER_LIMIT');
    // details.document: the index of the document at fault, across the whole input.
    const err = thrown(() =>
      rls.setConfig(['domain: a\n---\ndomain: b', { domain: 'c' }, 'domain: d\ndescriptors: [{ key: "" }]']),
    );
    expect([err.message, err.details]).toEqual([
      'rate limit config document 3: descriptor has empty key',
      { document: 3 },
    ]);
    // As it is at creation.
    expect(thrown(() => serve('domain: d\nbogus: 1')).message).toBe(
      "rate limit config document 0: config error, unknown key 'bogus'",
    );
  });

  it('reads YAML as envoyproxy/ratelimit (yaml.v2) does: scalars keep their text, merge keys merge', () => {
    const { call } = serve(`
domain: y
rate_limit: &limit { unit: second, requests_per_unit: 0 }
descriptors:
  - { key: version, value: "1.10", rate_limit: *limit }
  - { key: flag, value: yes, rate_limit: *limit }
  - { key: code, value: 010, rate_limit: *limit }
  - { key: hex, value: 0x1F, rate_limit: *limit }
  - key: merged
    rate_limit:
      <<: *limit
      requests_per_unit: 1
`);
    const limited = (k: string, v: string) =>
      call('y', [[[k, v]]]).statuses[0]?.currentLimit?.requestsPerUnit ?? null;
    expect([limited('version', '1.10'), limited('version', '1.1')]).toEqual([0, null]);
    expect([limited('flag', 'yes'), limited('flag', 'true')]).toEqual([0, null]);
    expect([limited('code', '010'), limited('code', '8')]).toEqual([0, null]);
    expect([limited('hex', '0x1F'), limited('hex', '31')]).toEqual([0, null]);
    expect(limited('merged', 'x')).toBe(1);
    expect(call('y', [[['merged', 'x']]]).statuses[0]?.currentLimit?.unit).toBe('SECOND');
  });
});
