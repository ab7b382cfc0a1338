import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadRlsService,
  startRateLimitServer,
  type RateLimitConfigInput,
  type RateLimitGrpcServer,
  type RateLimitServerOptions,
} from './rate-limit-grpc-server.js';

// The test server's envoyproxy/ratelimit semantics, through a real @grpc/grpc-js client call.

const { method } = loadRlsService();
/** proto-loader's request encoder, fed proto-loader input objects (the tests send overrides and wrappers too). */
const serializeRequest = method.requestSerialize as (req: object) => Buffer;
const deserializeAnswer = (b: Buffer): Answer => method.responseDeserialize(b) as unknown as Answer;
const servers: RateLimitGrpcServer[] = [];
const clients: grpc.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** 2026-01-01T00:00:00Z plus `s` seconds, in ms: a minute, hour and day boundary. */
const at = (s: number): number => (1_767_225_600 + s) * 1000;

interface Caller {
  readonly server: RateLimitGrpcServer;
  /** One ShouldRateLimit call; `d` holds a descriptor per element, each `[key, value]` pairs. */
  readonly call: (domain: string, d: Descriptors, extra?: object) => Promise<Answer>;
}

type Descriptors = readonly (readonly (readonly [string, string])[])[];

/** A RateLimitResponse as proto-loader decodes it. */
interface Answer {
  overall_code: string;
  statuses: {
    code: string;
    current_limit: { name: string; requests_per_unit: number; unit: string } | null;
    limit_remaining: number;
    duration_until_reset: { seconds: number; nanos: number } | null;
  }[];
}

async function serve(config: RateLimitConfigInput, options: RateLimitServerOptions = {}): Promise<Caller> {
  // One instant unless a test moves it: a test's calls share their per-second window even when
  // a loaded host spreads them over a second boundary.
  const server = await startRateLimitServer({ config, now: () => at(0.5), ...options });
  servers.push(server);
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  const call = (domain: string, d: Descriptors, extra: object = {}) =>
    new Promise<Answer>((resolve, reject) =>
      client.makeUnaryRequest<object, Answer>(
        method.path,
        serializeRequest,
        deserializeAnswer,
        {
          domain,
          descriptors: d.map((entries) => ({ entries: entries.map(([key, value]) => ({ key, value })) })),
          ...extra,
        },
        (err: grpc.ServiceError | null, res?: Answer) =>
          err === null && res !== undefined ? resolve(res) : reject(err ?? new Error('no response')),
      ),
    );
  return { server, call };
}

/** The code of each status, then the overall code last. */
const codes = (a: Answer): string[] => [...a.statuses.map((s) => s.code), a.overall_code];

/** `n` calls in turn, each answered before the next. */
async function inTurn(n: number, f: () => Promise<Answer>): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}

describe('rate limit test server: envoyproxy/ratelimit configuration semantics', () => {
  it('prefers key+value over the key-only default, and counts each value of the default apart', async () => {
    const { call, server } = await serve(
      `
domain: edge_proxy_per_ip
descriptors:
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 2 }
  - key: remote_address
    value: 50.0.0.5
    rate_limit: { unit: second, requests_per_unit: 1, name: vip }
`,
      { now: () => at(0) },
    );
    const ip = (v: string) => () => call('edge_proxy_per_ip', [[['remote_address', v]]]);
    expect((await inTurn(2, ip('50.0.0.5'))).map((a) => a.overall_code)).toEqual(['OK', 'OVER_LIMIT']);
    expect((await inTurn(3, ip('10.0.0.1'))).map((a) => a.overall_code)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    expect((await inTurn(3, ip('10.0.0.2'))).map((a) => a.overall_code)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    const [first] = await inTurn(1, ip('10.0.0.3'));
    expect(first?.statuses).toEqual([
      {
        code: 'OK',
        current_limit: { name: '', requests_per_unit: 2, unit: 'SECOND' },
        limit_remaining: 1,
        duration_until_reset: { seconds: 1, nanos: 0 },
        quota: null,
      },
    ]);
    // cache_key.go: `<domain>_<key>_<value>_<window start>`, with the request's own value.
    expect(Object.fromEntries(server.counters)).toEqual({
      'edge_proxy_per_ip_remote_address_50.0.0.5_1767225600': 2,
      'edge_proxy_per_ip_remote_address_10.0.0.1_1767225600': 3,
      'edge_proxy_per_ip_remote_address_10.0.0.2_1767225600': 3,
      'edge_proxy_per_ip_remote_address_10.0.0.3_1767225600': 1,
    });
  });

  it('applies a limit only at the depth of the request descriptor (README example 4)', async () => {
    const { call, server } = await serve(
      {
        domain: 'messaging',
        descriptors: [
          {
            key: 'message_type',
            value: 'marketing',
            descriptors: [{ key: 'to_number', rate_limit: { unit: 'day', requests_per_unit: 1 } }],
          },
          { key: 'to_number', rate_limit: { unit: 'day', requests_per_unit: 0 } },
        ],
      },
      { now: () => at(3600) },
    );
    const nested = () =>
      call('messaging', [
        [
          ['message_type', 'marketing'],
          ['to_number', '2061111111'],
        ],
      ]);
    expect((await inTurn(2, nested)).map((a) => a.overall_code)).toEqual(['OK', 'OVER_LIMIT']);
    // Shallower than the limit: message_type alone has none.
    const shallow = await call('messaging', [[['message_type', 'marketing']]]);
    // Deeper than the limit: to_number's limit is at depth 1, the request has 2 entries.
    const deep = await call('messaging', [
      [
        ['to_number', '1'],
        ['extra', 'x'],
      ],
    ]);
    // No match at the first level at all.
    const other = await call('messaging', [
      [
        ['message_type', 'transactional'],
        ['to_number', '1'],
      ],
    ]);
    for (const a of [shallow, deep, other])
      expect(a).toMatchObject({
        overall_code: 'OK',
        statuses: [{ code: 'OK', current_limit: null, limit_remaining: 0, duration_until_reset: null }],
      });
    expect([...server.counters.keys()]).toEqual([
      'messaging_message_type_marketing_to_number_2061111111_1767225600',
    ]);
  });

  it('matches `*` in a value as a wildcard after exact values, counting each value apart unless share_threshold', async () => {
    const { call } = await serve(`
domain: example9
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
    const path = (v: string) => call('example9', [[['path', v]]]);
    expect(codes(await path('/api/a'))).toEqual(['OK', 'OK']);
    expect(codes(await path('/api/a'))).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
    expect(codes(await path('/api/b'))).toEqual(['OK', 'OK']);
    expect(codes(await path('/api/'))).toEqual(['OK', 'OK']);
    // The exact value comes first: /api/free is unlimited.
    expect((await inTurn(3, () => path('/api/free'))).map((a) => a.statuses[0]?.limit_remaining)).toEqual([
      0xffff_ffff, 0xffff_ffff, 0xffff_ffff,
    ]);
    // Not a match: no limit.
    expect((await path('/other')).statuses[0]?.current_limit).toBeNull();
    const route = (v: string) => call('example9', [[['route', v]]]);
    expect((await route('/v1/x/action')).statuses[0]?.current_limit?.requests_per_unit).toBe(1);
    expect((await route('/v1/x/other')).statuses[0]?.current_limit).toBeNull();
    const files = (v: string) => call('example9', [[['files', v]]]);
    expect(codes(await files('files/a.pdf'))).toEqual(['OK', 'OK']);
    expect(codes(await files('files/b.csv'))).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
  });

  it('counts in fixed windows on the injected clock and reports the time to the next', async () => {
    let now = at(30.9);
    const { call, server } = await serve(
      { domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit: 'minute', requests_per_unit: 2 } }] },
      { now: () => now },
    );
    const one = () => call('d', [[['k', 'v']]]);
    const first = await inTurn(3, one);
    expect(first.map((a) => [a.overall_code, a.statuses[0]?.limit_remaining])).toEqual([
      ['OK', 1],
      ['OK', 0],
      ['OVER_LIMIT', 0],
    ]);
    // utils.CalculateReset: the unit less the whole seconds into it.
    expect(first[2]?.statuses[0]?.duration_until_reset).toEqual({ seconds: 30, nanos: 0 });
    now = at(59.999);
    expect((await one()).overall_code).toBe('OVER_LIMIT');
    now = at(60);
    const next = await one();
    expect(next.overall_code).toBe('OK');
    expect(next.statuses[0]?.duration_until_reset).toEqual({ seconds: 60, nanos: 0 });
    // The ended window's counter is dropped.
    expect(Object.fromEntries(server.counters)).toEqual({ d_k_v_1767225660: 1 });
  });

  it('blocks every request with requests_per_unit 0, never limits unlimited, and is OVER_LIMIT if any descriptor is', async () => {
    const { call, server } = await serve(`
domain: internal
descriptors:
  - key: blocked
    rate_limit: { unit: hour, requests_per_unit: 0 }
  - key: ldap
    rate_limit: { unlimited: true }
  - key: azure
    rate_limit: { unit: minute, requests_per_unit: 100 }
`);
    const blocked = await call('internal', [[['blocked', 'x']]]);
    expect(blocked.overall_code).toBe('OVER_LIMIT');
    expect(blocked.statuses[0]).toMatchObject({
      code: 'OVER_LIMIT',
      current_limit: { requests_per_unit: 0, unit: 'HOUR' },
      limit_remaining: 0,
    });
    for (const a of await inTurn(3, () => call('internal', [[['ldap', 'x']]])))
      expect(a).toMatchObject({
        overall_code: 'OK',
        statuses: [
          { code: 'OK', current_limit: null, limit_remaining: 0xffff_ffff, duration_until_reset: null },
        ],
      });
    const several = await call('internal', [
      [['azure', 'x']],
      [['ldap', 'x']],
      [['blocked', 'y']],
      [['none', 'x']],
    ]);
    expect(codes(several)).toEqual(['OK', 'OK', 'OVER_LIMIT', 'OK', 'OVER_LIMIT']);
    expect(several.statuses[0]?.limit_remaining).toBe(99);
    // Unlimited and unmatched descriptors are not counted.
    expect([...server.counters.keys()].map((k) => k.replace(/_\d+$/, ''))).toEqual([
      'internal_blocked_x',
      'internal_azure_x',
      'internal_blocked_y',
    ]);
  });

  it('answers a shadow_mode limit OK while it counts, with the remaining at 0 (README example 6)', async () => {
    const { call } = await serve(`
domain: example6
descriptors:
  - key: service
    descriptors:
      - key: user
        value: user-a
        rate_limit: { requests_per_unit: 1, unit: second }
        shadow_mode: true
      - key: user
        value: user-b
        rate_limit: { requests_per_unit: 1, unit: second }
`);
    const user = (u: string) => () =>
      call('example6', [
        [
          ['service', 'auth-service'],
          ['user', u],
        ],
      ]);
    const a = await inTurn(3, user('user-a'));
    expect(a.map(codes)).toEqual([
      ['OK', 'OK'],
      ['OK', 'OK'],
      ['OK', 'OK'],
    ]);
    expect(a.map((r) => r.statuses[0]?.limit_remaining)).toEqual([0, 0, 0]);
    expect(a[2]?.statuses[0]?.current_limit).toEqual({ name: '', requests_per_unit: 1, unit: 'SECOND' });
    expect((await inTurn(2, user('user-b'))).map((r) => r.overall_code)).toEqual(['OK', 'OVER_LIMIT']);
  });

  it('answers OK under the global shadow mode, keeping the descriptor status OVER_LIMIT', async () => {
    const { call } = await serve(
      { domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 0 } }] },
      { globalShadowMode: true },
    );
    expect(codes(await call('d', [[['k', 'v']]]))).toEqual(['OVER_LIMIT', 'OK']);
  });

  it('adds hits_addend (the request’s, at least 1, or the descriptor’s own, 0 allowed)', async () => {
    const { call } = await serve({
      domain: 'd',
      descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 10 } }],
    });
    const remaining = async (extra: object, d: Descriptors = [[['k', 'v']]]) =>
      (await call('d', d, extra)).statuses.map((s) => s.limit_remaining);
    expect(await remaining({ hits_addend: 4 })).toEqual([6]);
    expect(await remaining({})).toEqual([5]);
    const perDescriptor = {
      descriptors: [
        { entries: [{ key: 'k', value: 'v' }], hits_addend: { value: 0 } },
        { entries: [{ key: 'k', value: 'v' }], hits_addend: { value: 2 } },
      ],
      hits_addend: 7,
    };
    expect(await remaining(perDescriptor, [])).toEqual([5, 3]);
    expect(await remaining({ hits_addend: 4 })).toEqual([0]);
  });

  it('drops a limit another matched limit replaces (README example 7), and takes an Envoy limit override', async () => {
    const { call } = await serve(`
domain: example7
descriptors:
  - key: key_1
    value: value_1
    descriptors:
      - key: user
        value: bkthomps
        rate_limit: { name: specific_limit, requests_per_unit: 5, unit: second }
  - key: key_2
    value: value_2
    descriptors:
      - key: user
        value: bkthomps
        rate_limit: { replaces: [{ name: specific_limit }], requests_per_unit: 10, unit: second }
`);
    const both = await call('example7', [
      [
        ['key_1', 'value_1'],
        ['user', 'bkthomps'],
      ],
      [
        ['key_2', 'value_2'],
        ['user', 'bkthomps'],
      ],
    ]);
    expect(both.statuses.map((s) => s.current_limit?.requests_per_unit ?? null)).toEqual([null, 10]);
    const override = await call('example7', [], {
      descriptors: [
        { entries: [{ key: 'anything', value: 'x' }], limit: { requests_per_unit: 3, unit: 'HOUR' } },
      ],
    });
    expect(override.statuses[0]).toMatchObject({
      current_limit: { requests_per_unit: 3, unit: 'HOUR' },
      limit_remaining: 2,
    });
  });

  it('answers an unknown domain OK with no limits, and an empty domain with gRPC UNKNOWN', async () => {
    const { call, server } = await serve([]);
    expect(await call('nope', [[['k', 'v']], [['a', 'b']]])).toMatchObject({
      overall_code: 'OK',
      statuses: [
        { code: 'OK', current_limit: null },
        { code: 'OK', current_limit: null },
      ],
    });
    await expect(call('', [[['k', 'v']]])).rejects.toMatchObject({ code: grpc.status.UNKNOWN });
    await expect(call('nope', [])).rejects.toMatchObject({ code: grpc.status.UNKNOWN });
    // A reload brings the domain in.
    server.setConfig({
      domain: 'nope',
      descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 0 } }],
    });
    expect((await call('nope', [[['k', 'v']]])).overall_code).toBe('OVER_LIMIT');
  });

  it('loads several domains from YAML documents and refuses what envoyproxy/ratelimit refuses', async () => {
    const { call, server } = await serve(`
domain: one
descriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: 0 } }]
---
domain: two
descriptors: [{ key: k, rate_limit: { unit: second, requests_per_unit: 1 } }]
`);
    expect((await call('one', [[['k', 'v']]])).overall_code).toBe('OVER_LIMIT');
    expect((await call('two', [[['k', 'v']]])).overall_code).toBe('OK');
    for (const [bad, message] of [
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: fortnight, requests_per_unit: 1 } }]',
        /invalid rate limit unit/,
      ],
      [
        'domain: d\ndescriptors: [{ key: k, rate_limit: { unit: second, unlimited: true } }]',
        /unit when unlimited/,
      ],
      ['domain: d\ndescriptors: [{ key: k }, { key: k }]', /duplicate descriptor composite key 'd.k'/],
      ['domain: d\ndescriptors: [{ key: k, vaule: v }]', /unknown key 'vaule'/],
      ['domain: d\ndescriptors: [{ key: k, value: v, share_threshold: true }]', /share_threshold/],
      ['descriptors: []', /empty domain/],
      ['domain: d\n---\ndomain: d', /duplicate domain 'd'/],
      ['domain: [', /error loading config file/],
    ] as const)
      expect(() => server.setConfig(bad), bad).toThrow(message);
    // A refused reload keeps the configuration it had.
    expect((await call('one', [[['k', 'v']]])).overall_code).toBe('OVER_LIMIT');
  });
});

describe('rate limit test server: answering by hand', () => {
  it('answers, fails or hangs as the handler says, and records each request and :authority', async () => {
    let mode: 'decorate' | 'error' | 'hang' = 'decorate';
    const { call, server } = await serve(
      { domain: 'd', descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 5 } }] },
      {
        handler: (_req, fromConfig) => {
          if (mode === 'error') return { grpcError: grpc.status.UNAVAILABLE };
          if (mode === 'hang') return 'hang';
          const answer = fromConfig();
          if ('grpcError' in answer) return answer;
          return { ...answer, response_headers_to_add: [{ key: 'x-ratelimit-limit', value: '5' }] };
        },
      },
    );
    const decorated = await call('d', [[['k', 'v']]], { hits_addend: 2 });
    expect(decorated).toMatchObject({
      overall_code: 'OK',
      statuses: [{ limit_remaining: 3 }],
      response_headers_to_add: [{ key: 'x-ratelimit-limit', value: '5', raw_value: Buffer.alloc(0) }],
    });
    mode = 'error';
    await expect(call('d', [[['k', 'v']]])).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    mode = 'hang';
    const hanging = expect(call('d', [[['k', 'v']]])).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    await expect.poll(() => server.seen.length).toBe(3);
    // Closing fails the call it holds.
    await server.close();
    await hanging;
    expect(server.seen[0]).toEqual({
      domain: 'd',
      descriptors: [{ entries: [{ key: 'k', value: 'v' }], limit: null, hits_addend: null }],
      hits_addend: 2,
    });
    expect(server.authorities).toEqual([
      `127.0.0.1:${server.port}`,
      `127.0.0.1:${server.port}`,
      `127.0.0.1:${server.port}`,
    ]);
  });
});
