import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/config/validate/context.js';
import { validate } from './helpers.js';

const route = [{ destination: { host: 'reviews' } }];
const vs = (http: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  hosts: ['reviews'],
  http: [{ route, ...http }],
  ...extra,
});

interface Case {
  readonly rule: string;
  readonly valid: unknown;
  readonly invalid: unknown;
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const CASES: readonly Case[] = [
  {
    rule: 'hosts are DNS-1123 with a wildcard only in the first label',
    valid: { hosts: ['*.example.com'], http: [{ route }] },
    invalid: { hosts: ['foo.*.com'], http: [{ route }] },
    path: ['spec', 'hosts', 0],
    message: 'invalid (label "*" invalid)',
  },
  {
    rule: 'hosts may not overlap',
    valid: { hosts: ['a.foo.com', 'b.foo.com'], http: [{ route }] },
    invalid: { hosts: ['*.foo.com', 'a.foo.com'], http: [{ route }] },
    path: ['spec', 'hosts', 1],
    message: 'duplicate hosts in virtual service: *.foo.com & a.foo.com',
  },
  {
    rule: '`*` is not allowed on the mesh gateway',
    valid: { hosts: ['*'], gateways: ['istio-system/ingress'], http: [{ route }] },
    invalid: { hosts: ['*'], http: [{ route }] },
    path: ['spec', 'hosts', 0],
    message: 'wildcard host * is not allowed for virtual services bound to the mesh gateway',
  },
  {
    rule: 'at least one of http, tcp or tls',
    valid: { hosts: ['reviews'], tcp: [{ route }] },
    invalid: { hosts: ['reviews'] },
    path: ['spec'],
    message: 'http, tcp or tls must be provided in virtual service',
  },
  {
    rule: 'a delegate (no hosts) has no gateways',
    valid: { http: [{ route }] },
    invalid: { gateways: ['ingress'], http: [{ route }] },
    path: ['spec', 'gateways'],
    message: 'delegate virtual service must have no gateways specified',
  },
  {
    rule: 'gateway names are ns/name DNS labels',
    valid: vs({}, { gateways: ['istio-system/my-gw'] }),
    invalid: vs({}, { gateways: ['istio-system/My_gw'] }),
    path: ['spec', 'gateways', 0],
    message: 'invalid value for gateway name: "My_gw"',
  },
  {
    rule: 'route and redirect are exclusive',
    valid: { hosts: ['reviews'], http: [{ redirect: { uri: '/v2' } }] },
    invalid: vs({ redirect: { uri: '/v2' } }),
    path: ['spec', 'http', 0, 'redirect'],
    message: 'HTTP route cannot contain both route and redirect',
  },
  {
    rule: 'route and directResponse are exclusive',
    valid: { hosts: ['reviews'], http: [{ directResponse: { status: 503 } }] },
    invalid: vs({ directResponse: { status: 503 } }),
    path: ['spec', 'http', 0, 'directResponse'],
    message: 'HTTP route cannot contain both route and direct_response',
  },
  {
    rule: 'a root route with delegate has no route',
    valid: { hosts: ['reviews'], http: [{ delegate: { name: 'd', namespace: 'ns' } }] },
    invalid: vs({ delegate: { name: 'd', namespace: 'ns' } }),
    path: ['spec', 'http', 0, 'route'],
    message: 'root HTTP route  must not specify route',
  },
  {
    rule: 'a rule needs a route, redirect or directResponse',
    valid: vs({}),
    invalid: { hosts: ['reviews'], http: [{ timeout: '1s' }] },
    path: ['spec', 'http', 0],
    message: 'HTTP route, redirect or direct_response is required',
  },
  {
    rule: 'fault and redirect are exclusive',
    valid: { hosts: ['reviews'], http: [{ redirect: { uri: '/x' } }] },
    invalid: {
      hosts: ['reviews'],
      http: [{ redirect: { uri: '/x' }, fault: { abort: { httpStatus: 500 } } }],
    },
    path: ['spec', 'http', 0, 'fault'],
    message: 'HTTP route cannot contain both fault and redirect',
  },
  {
    rule: 'a fault needs an abort or a delay',
    valid: vs({ fault: { delay: { fixedDelay: '1s', percentage: { value: 10 } } } }),
    invalid: vs({ fault: {} }),
    path: ['spec', 'http', 0, 'fault'],
    message: 'HTTP fault injection must have an abort and/or a delay',
  },
  {
    rule: 'abort httpStatus is within 200-600',
    valid: vs({ fault: { abort: { httpStatus: 600 } } }),
    invalid: vs({ fault: { abort: { httpStatus: 199 } } }),
    path: ['spec', 'http', 0, 'fault', 'abort', 'httpStatus'],
    message: 'HTTP status 199 is not in range 200-599',
  },
  {
    rule: 'abort grpcStatus is a known gRPC code',
    valid: vs({ fault: { abort: { grpcStatus: 'UNAVAILABLE' } } }),
    invalid: vs({ fault: { abort: { grpcStatus: 'NOPE' } } }),
    path: ['spec', 'http', 0, 'fault', 'abort', 'grpcStatus'],
    message: 'gRPC status "NOPE" is not supported',
  },
  {
    rule: 'fault percentage is 0 or within [0.0001, 100]',
    valid: vs({ fault: { abort: { httpStatus: 500, percentage: { value: 0 } } } }),
    invalid: vs({ fault: { abort: { httpStatus: 500, percentage: { value: 0.00001 } } } }),
    path: ['spec', 'http', 0, 'fault', 'abort', 'percentage', 'value'],
    message: 'percentage must be 0 or in range [0.0001, 100]',
  },
  {
    rule: 'redirect codes are 3xx',
    valid: { hosts: ['reviews'], http: [{ redirect: { uri: '/x', redirectCode: 308 } }] },
    invalid: { hosts: ['reviews'], http: [{ redirect: { uri: '/x', redirectCode: 200 } }] },
    path: ['spec', 'http', 0, 'redirect', 'redirectCode'],
    message: '200 is not a valid redirect code, must be 3xx',
  },
  {
    rule: 'weights are not negative',
    valid: vs({
      route: [
        { destination: { host: 'a' }, weight: 0 },
        { destination: { host: 'b' }, weight: 1 },
      ],
    }),
    invalid: vs({
      route: [
        { destination: { host: 'a' }, weight: -1 },
        { destination: { host: 'b' }, weight: 2 },
      ],
    }),
    path: ['spec', 'http', 0, 'route', 0, 'weight'],
    message: 'weight -1 < 0',
  },
  {
    rule: 'several destinations need a total weight above 0',
    valid: vs({
      route: [
        { destination: { host: 'a' }, weight: 30 },
        { destination: { host: 'b' }, weight: 30 },
      ],
    }),
    invalid: vs({ route: [{ destination: { host: 'a' } }, { destination: { host: 'b' } }] }),
    path: ['spec', 'http', 0, 'route'],
    message: 'total destination weight = 0',
  },
  {
    rule: 'attempts are not negative',
    valid: vs({ retries: { attempts: 3 } }),
    invalid: vs({ retries: { attempts: -1 } }),
    path: ['spec', 'http', 0, 'retries', 'attempts'],
    message: 'attempts cannot be negative',
  },
  {
    rule: 'attempts 0 forbids perTryTimeout',
    valid: vs({ retries: { attempts: 1, perTryTimeout: '2s' } }),
    invalid: vs({ retries: { attempts: 0, perTryTimeout: '2s' } }),
    path: ['spec', 'http', 0, 'retries', 'perTryTimeout'],
    message: 'http retry policy configured when attempts are set to 0 (disabled)',
  },
  {
    rule: 'attempts 0 forbids retryOn',
    valid: vs({ retries: { attempts: 2, retryOn: '5xx' } }),
    invalid: vs({ retries: { retryOn: '5xx' } }),
    path: ['spec', 'http', 0, 'retries', 'retryOn'],
    message: 'http retry policy configured when attempts are set to 0 (disabled)',
  },
  {
    rule: 'attempts 0 forbids retryRemoteLocalities',
    valid: vs({ retries: { attempts: 2, retryRemoteLocalities: true } }),
    invalid: vs({ retries: { attempts: 0, retryRemoteLocalities: false } }),
    path: ['spec', 'http', 0, 'retries', 'retryRemoteLocalities'],
    message: 'http retry policy configured when attempts are set to 0 (disabled)',
  },
  {
    rule: 'retryOn items are known policies or HTTP codes, without spaces',
    valid: vs({ retries: { attempts: 2, retryOn: 'gateway-error,503,reset' } }),
    invalid: vs({ retries: { attempts: 2, retryOn: '5xx, reset' } }),
    path: ['spec', 'http', 0, 'retries', 'retryOn'],
    message: '" reset" is not a valid retryOn policy',
  },
  {
    rule: 'perTryTimeout is a duration of at least 1ms',
    valid: vs({ retries: { attempts: 2, perTryTimeout: '1ms' } }),
    invalid: vs({ retries: { attempts: 2, perTryTimeout: '3' } }),
    path: ['spec', 'http', 0, 'retries', 'perTryTimeout'],
    message: '"3" is not a duration',
  },
  {
    rule: 'header operations do not touch pseudo-headers',
    valid: vs({ headers: { request: { set: { 'x-a': 'b' } } } }),
    invalid: vs({ headers: { request: { set: { ':path': '/x' } } } }),
    path: ['spec', 'http', 0, 'headers', 'request', 'set', ':path'],
    message: 'invalid header ":path": header cannot have ":" prefix',
  },
  {
    rule: 'response header operations do not set Host',
    valid: vs({ headers: { request: { set: { host: 'a.example.com' } } } }),
    invalid: vs({ headers: { response: { set: { Host: 'a' } } } }),
    path: ['spec', 'http', 0, 'headers', 'response', 'set', 'Host'],
    message: 'invalid header "Host": cannot set Host header',
  },
  {
    rule: 'destination header removal does not touch Host',
    valid: vs({ route: [{ destination: { host: 'a' }, headers: { request: { remove: ['x-a'] } } }] }),
    invalid: vs({ route: [{ destination: { host: 'a' }, headers: { request: { remove: ['host'] } } }] }),
    path: ['spec', 'http', 0, 'route', 0, 'headers', 'request', 'remove', 0],
    message: 'cannot set Host header',
  },
  {
    rule: 'the authority is rewritten in one place only',
    valid: vs({ rewrite: { authority: 'a' } }),
    invalid: vs({ rewrite: { authority: 'a' }, headers: { request: { set: { ':authority': 'b' } } } }),
    path: ['spec', 'http', 0, 'headers', 'request', 'set', ':authority'],
    message: 'authority header cannot be set multiple times',
  },
  {
    rule: 'mirror and mirrors are exclusive',
    valid: vs({ mirrors: [{ destination: { host: 'm' } }] }),
    invalid: vs({ mirror: { host: 'm' }, mirrors: [{ destination: { host: 'm' } }] }),
    path: ['spec', 'http', 0, 'mirrors'],
    message: 'HTTP route cannot contain both mirror and mirrors',
  },
  {
    rule: 'mirrorPercentage is at most 100',
    valid: vs({ mirror: { host: 'm' }, mirrorPercentage: { value: 100 } }),
    invalid: vs({ mirror: { host: 'm' }, mirrorPercentage: { value: 100.5 } }),
    path: ['spec', 'http', 0, 'mirrorPercentage', 'value'],
    message: 'mirror_percentage must have a max value of 100',
  },
  {
    rule: 'subset names are DNS-1123 labels',
    valid: vs({ route: [{ destination: { host: 'a', subset: 'v1' } }] }),
    invalid: vs({ route: [{ destination: { host: 'a', subset: 'v1.0' } }] }),
    path: ['spec', 'http', 0, 'route', 0, 'destination', 'subset'],
    message: 'subset name is invalid: v1.0',
  },
  {
    rule: 'destination ports are 1-65535',
    valid: vs({ route: [{ destination: { host: 'a', port: { number: 9080 } } }] }),
    invalid: vs({ route: [{ destination: { host: 'a', port: { number: 70000 } } }] }),
    path: ['spec', 'http', 0, 'route', 0, 'destination', 'port', 'number'],
    message: 'port number 70000 must be in the range 1..65535',
  },
  {
    rule: 'regex matches are valid RE2',
    valid: vs({ match: [{ uri: { regex: '/api/v[0-9]+' } }] }),
    invalid: vs({ match: [{ uri: { regex: '/api/(?=v1)' } }] }),
    path: ['spec', 'http', 0, 'match', 0, 'uri', 'regex'],
    message: 'is not a valid RE2 regex',
  },
  {
    rule: 'header prefix matches are not empty',
    valid: vs({ match: [{ uri: { prefix: '' } }] }),
    invalid: vs({ match: [{ headers: { 'end-user': { prefix: '' } } }] }),
    path: ['spec', 'http', 0, 'match', 0, 'headers', 'end-user', 'prefix'],
    message: '"headers": prefix string match should not be empty',
  },
  {
    rule: 'JWT claim routing needs a gateway',
    valid: vs(
      { match: [{ headers: { '@request.auth.claims.sub': { exact: 'a' } } }] },
      { gateways: ['ns/gw'] },
    ),
    invalid: vs({ match: [{ headers: { '@request.auth.claims.sub': { exact: 'a' } } }] }),
    path: ['spec', 'http', 0, 'match', 0, 'headers', '@request.auth.claims.sub'],
    message: 'JWT claim based routing (key: @request.auth.claims.sub) is only supported for gateway',
  },
  {
    rule: 'redirect prefixRewrite needs prefix uri matches',
    valid: {
      hosts: ['a'],
      http: [{ match: [{ uri: { prefix: '/a' } }], redirect: { prefixRewrite: '/b' } }],
    },
    invalid: {
      hosts: ['a'],
      http: [{ match: [{ uri: { exact: '/a' } }], redirect: { prefixRewrite: '/b' } }],
    },
    path: ['spec', 'http', 0, 'redirect', 'prefixRewrite'],
    message: 'redirect prefix_rewrite requires all URI matches to use prefix match type',
  },
  {
    rule: 'CORS methods are HTTP methods',
    valid: vs({ corsPolicy: { allowMethods: ['GET', 'POST'], maxAge: '24h' } }),
    invalid: vs({ corsPolicy: { allowMethods: ['FETCH'] } }),
    path: ['spec', 'http', 0, 'corsPolicy', 'allowMethods', 0],
    message: '"FETCH" is not a supported HTTP method',
  },
  {
    rule: 'TLS routes need SNI hosts within the VirtualService hosts',
    valid: { hosts: ['*.bar.com'], tls: [{ match: [{ sniHosts: ['a.bar.com'] }], route }] },
    invalid: { hosts: ['*.bar.com'], tls: [{ match: [{ sniHosts: ['a.foo.com'] }], route }] },
    path: ['spec', 'tls', 0, 'match', 0, 'sniHosts', 0],
    message:
      'SNI host "a.foo.com" is not a compatible subset of any of the virtual service hosts: [*.bar.com]',
  },
  {
    rule: 'TCP routes need a route',
    valid: { hosts: ['a'], tcp: [{ match: [{ port: 27017 }], route }] },
    invalid: { hosts: ['a'], tcp: [{ match: [{ port: 27017 }] }] },
    path: ['spec', 'tcp', 0, 'route'],
    message: 'TCP route is required',
  },
  {
    rule: 'exportTo has no duplicates',
    valid: vs({}, { exportTo: ['.', 'other'] }),
    invalid: vs({}, { exportTo: ['default', '.'] }),
    path: ['spec', 'exportTo', 1],
    message: 'duplicate entries in exportTo: . and current namespace default',
  },
];

const errorsOf = (spec: unknown): Finding[] =>
  validate('VirtualService', spec).filter((f) => f.level === 'Error');

describe('VirtualService validation', () => {
  it.each(CASES.map((c) => [c.rule, c] as const))('accepts the valid case: %s', (_rule, c) => {
    expect(errorsOf(c.valid)).toEqual([]);
  });

  it.each(CASES.map((c) => [c.rule, c] as const))('rejects the invalid case at its path: %s', (_rule, c) => {
    const found = errorsOf(c.invalid);
    expect(found.filter((f) => f.message.includes(c.message)).map((f) => f.path)).toContainEqual(c.path);
  });

  it('rejects unknown fields and suggests the real one', () => {
    const found = errorsOf(vs({ retries: { attempts: 2, per_try_timeout: '1s' } }));
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toEqual(['spec', 'http', 0, 'retries', 'per_try_timeout']);
    expect(found[0]?.message).toContain('did you mean "perTryTimeout"');
  });

  it('warns with IST0002 on deprecated fault.delay.percent and mirrorPercent', () => {
    const found = validate(
      'VirtualService',
      vs({ fault: { delay: { fixedDelay: '1s', percent: 50 } }, mirror: { host: 'm' }, mirrorPercent: 10 }),
    );
    expect(found.filter((f) => f.level === 'Error')).toEqual([]);
    expect(found.filter((f) => f.code === 'IST0002').map((f) => [f.level, f.path, f.message])).toEqual([
      [
        'Warning',
        ['spec', 'http', 0, 'fault', 'delay', 'percent'],
        'Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
      ],
      [
        'Warning',
        ['spec', 'http', 0, 'mirrorPercent'],
        'Deprecated: HTTPRoute.mirrorPercent is deprecated; use HTTPRoute.mirrorPercentage',
      ],
    ]);
  });

  it('accepts the proto wrapper fields as plain numbers and booleans', () => {
    const spec = vs({
      retries: { attempts: 2, retryRemoteLocalities: true, retryIgnorePreviousHosts: false, backoff: '50ms' },
      mirror: { host: 'm' },
      mirror_percent: 5,
      corsPolicy: {
        allowCredentials: true,
        allowOrigins: [{ exact: 'https://a' }],
        unmatchedPreflights: 'IGNORE',
      },
      directResponse: undefined,
    });
    expect(errorsOf(spec)).toEqual([]);
  });

  it('rejects two members of a StringMatch oneof', () => {
    const found = errorsOf(vs({ match: [{ uri: { exact: '/a', prefix: '/a' } }] }));
    expect(found.map((f) => f.path)).toEqual([['spec', 'http', 0, 'match', 0, 'uri']]);
  });
});
