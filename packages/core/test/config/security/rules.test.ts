import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { validate } from './samples.js';

type Case = readonly [rule: string, valid: unknown, invalid: unknown, path: string, text: string];

function table(kind: string, cases: readonly Case[]): void {
  describe(`${kind} webhook rules`, () => {
    it.each(cases)('accepts the valid case of: %s', (_, valid) => {
      expect(validate(kind, valid).filter((f) => f.level === 'Error')).toEqual([]);
    });
    it.each(cases)('rejects the invalid case of: %s', (_, __, invalid, path, text) => {
      const errors = validate(kind, invalid).filter((f) => f.level === 'Error');
      expect(errors.map((e) => [formatPath(e.path), e.message.includes(text)])).toContainEqual([path, true]);
    });
  });
}

const sel = { matchLabels: { app: 'a' } };
const src = (s: Record<string, unknown>) => ({ rules: [{ from: [{ source: s }] }] });
const op = (o: Record<string, unknown>) => ({ rules: [{ to: [{ operation: o }] }] });
const when = (w: Record<string, unknown>) => ({ rules: [{ when: [w] }] });

table('PeerAuthentication', [
  [
    'portLevelMtls needs a selector',
    { selector: sel, portLevelMtls: { '80': { mode: 'STRICT' } } },
    { portLevelMtls: { '80': { mode: 'STRICT' } } },
    'spec.portLevelMtls',
    'portLevelMtls requires selector',
  ],
  [
    'portLevelMtls has entries',
    { selector: sel, portLevelMtls: { '1': {} } },
    { selector: sel, portLevelMtls: {} },
    'spec.portLevelMtls',
    'at least 1 properties',
  ],
  [
    'ports are 1-65535',
    { selector: sel, portLevelMtls: { '65535': {} } },
    { selector: sel, portLevelMtls: { '65536': {} } },
    'spec.portLevelMtls["65536"]',
    'port must be between 1-65535',
  ],
  [
    'ports are numbers',
    { selector: sel, portLevelMtls: { '8080': {} } },
    { selector: sel, portLevelMtls: { http: {} } },
    'spec.portLevelMtls.http',
    'type conversion error',
  ],
  [
    'mode is an enum',
    { mtls: { mode: 'DISABLE' } },
    { mtls: { mode: 'strict' } },
    'spec.mtls.mode',
    'Unsupported value',
  ],
  [
    'selector values have no wildcard',
    { selector: { matchLabels: { app: 'x' } } },
    { selector: { matchLabels: { app: 'x*' } } },
    'spec.selector.matchLabels.app',
    'wildcard not allowed in label value match',
  ],
  [
    'selector keys are not empty',
    { selector: { matchLabels: { a: 'x' } } },
    { selector: { matchLabels: { '': 'x' } } },
    'spec.selector.matchLabels',
    'key must not be empty',
  ],
]);

const rule = (r: Record<string, unknown>) => ({ jwtRules: [{ issuer: 'i', ...r }] });
table('RequestAuthentication', [
  [
    'issuer or jwksUri',
    { jwtRules: [{ jwksUri: 'https://x/jwks' }] },
    { jwtRules: [{ audiences: ['a'] }] },
    'spec.jwtRules[0].issuer',
    'issuer or jwksUri must be non-empty string',
  ],
  [
    'jwksUri xor jwks',
    rule({ jwks: '{"keys":[]}' }),
    rule({ jwks: '{"keys":[]}', jwksUri: 'https://x' }),
    'spec.jwtRules[0]',
    'only one of jwks or jwksUri can be set',
  ],
  [
    'jwksUri scheme',
    rule({ jwksUri: 'HTTP://x/jwks' }),
    rule({ jwksUri: 'ftp://x/jwks' }),
    'spec.jwtRules[0].jwksUri',
    'url must have scheme http:// or https://',
  ],
  [
    'jwks parses',
    rule({ jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}' }),
    rule({ jwks: '{not json' }),
    'spec.jwtRules[0].jwks',
    'jwks parse error',
  ],
  [
    'audiences non-empty',
    rule({ audiences: ['a'] }),
    rule({ audiences: [''] }),
    'spec.jwtRules[0].audiences[0]',
    'at least 1 chars',
  ],
  [
    'header names non-empty',
    rule({ fromHeaders: [{ name: 'x', prefix: 'Bearer ' }] }),
    rule({ fromHeaders: [{ name: '' }] }),
    'spec.jwtRules[0].fromHeaders[0].name',
    'at least 1 chars',
  ],
  [
    'param names non-empty',
    rule({ fromParams: ['t'] }),
    rule({ fromParams: [''] }),
    'spec.jwtRules[0].fromParams[0]',
    'at least 1 chars',
  ],
  [
    'cookie names non-empty',
    rule({ fromCookies: ['t'] }),
    rule({ fromCookies: [''] }),
    'spec.jwtRules[0].fromCookies[0]',
    'at least 1 chars',
  ],
  [
    'claim header pattern',
    rule({ outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }] }),
    rule({ outputClaimToHeaders: [{ header: 'x sub', claim: 'sub' }] }),
    'spec.jwtRules[0].outputClaimToHeaders[0].header',
    'in body should match',
  ],
  [
    'timeout duration',
    rule({ timeout: '1.5s' }),
    rule({ timeout: '10d' }),
    'spec.jwtRules[0].timeout',
    'must be a valid duration greater than 1ms',
  ],
  [
    'selector xor targetRef',
    { targetRef: { kind: 'Service', name: 's' } },
    { selector: sel, targetRefs: [{ kind: 'Service', name: 's' }] },
    'spec',
    'only one of targetRefs or selector can be set',
  ],
  [
    'no cross-namespace target',
    { targetRefs: [{ kind: 'Service', name: 's', namespace: '' }] },
    { targetRefs: [{ kind: 'Service', name: 's', namespace: 'other' }] },
    'spec.targetRefs[0].namespace',
    'cross namespace referencing is not currently supported',
  ],
  [
    'target kind allowed',
    { targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'g' } },
    { targetRef: { kind: 'Pod', name: 'p' } },
    'spec.targetRef',
    'targetRef must be to one of',
  ],
]);

table('AuthorizationPolicy', [
  [
    'provider only with CUSTOM',
    { action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] },
    { action: 'DENY', provider: { name: 'ext' }, rules: [{}] },
    'spec.provider',
    '`provider` must not be with non CUSTOM action',
  ],
  [
    'CUSTOM needs provider',
    { action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] },
    { action: 'CUSTOM', rules: [{}] },
    'spec.provider.name',
    '`provider.name` must not be empty',
  ],
  [
    'CUSTOM needs rules',
    { action: 'CUSTOM', provider: { name: 'e' }, rules: [{}] },
    { action: 'CUSTOM', provider: { name: 'e' } },
    'spec.rules',
    'CUSTOM action without `rules`',
  ],
  [
    'DENY needs rules',
    { action: 'DENY', rules: [{}] },
    { action: 'DENY' },
    'spec.rules',
    'DENY action without `rules`',
  ],
  [
    'CUSTOM has no identity fields',
    { action: 'CUSTOM', provider: { name: 'e' }, ...src({ ipBlocks: ['1.2.3.4'] }) },
    { action: 'CUSTOM', provider: { name: 'e' }, ...src({ principals: ['p'] }) },
    'spec.rules[0].from[0].source.principals',
    'not supported with CUSTOM action',
  ],
  [
    'from not empty',
    src({ principals: ['p'] }),
    { rules: [{ from: [] }] },
    'spec.rules[0].from',
    '`from` must not be empty',
  ],
  [
    'source present',
    src({ principals: ['p'] }),
    { rules: [{ from: [{}] }] },
    'spec.rules[0].from[0].source',
    '`from.source` must not be nil',
  ],
  [
    'source not empty',
    src({ namespaces: ['n'] }),
    src({ principals: [] }),
    'spec.rules[0].from[0].source',
    '`from.source` must not be empty',
  ],
  [
    'to not empty',
    op({ methods: ['GET'] }),
    { rules: [{ to: [] }] },
    'spec.rules[0].to',
    '`to` must not be empty',
  ],
  [
    'operation not empty',
    op({ paths: ['/a'] }),
    op({}),
    'spec.rules[0].to[0].operation',
    '`to.operation` must not be empty',
  ],
  [
    'no empty strings',
    op({ methods: ['GET'] }),
    op({ methods: [''] }),
    'spec.rules[0].to[0].operation.methods[0]',
    'empty value not allowed',
  ],
  [
    'serviceAccounts alone',
    src({ serviceAccounts: ['ns/sa'] }),
    src({ notServiceAccounts: ['sa'], notNamespaces: ['n'] }),
    'spec.rules[0].from[0].source',
    'Cannot set serviceAccounts with namespaces or principals',
  ],
  [
    'serviceAccounts no wildcard',
    src({ serviceAccounts: ['sa'] }),
    src({ serviceAccounts: ['ns/*'] }),
    'spec.rules[0].from[0].source.serviceAccounts[0]',
    'wildcard not allowed',
  ],
  [
    'serviceAccounts format',
    src({ serviceAccounts: ['a/b'] }),
    src({ serviceAccounts: ['a/b/c'] }),
    'spec.rules[0].from[0].source.serviceAccounts[0]',
    "expected format 'serviceAccount' or 'namespace/serviceAccount'",
  ],
  [
    'serviceAccounts at most 16',
    src({ serviceAccounts: Array.from({ length: 16 }, (_, i) => `sa${i}`) }),
    src({ serviceAccounts: Array.from({ length: 17 }, (_, i) => `sa${i}`) }),
    'spec.rules[0].from[0].source.serviceAccounts',
    'less than or equal to 16',
  ],
  [
    'ipBlocks are IPs or CIDRs',
    src({ ipBlocks: ['10.0.0.0/8', '::1'] }),
    src({ ipBlocks: ['10.0.0.0/33'] }),
    'spec.rules[0].from[0].source.ipBlocks[0]',
    'bad CIDR range',
  ],
  [
    'remoteIpBlocks are IPs',
    src({ remoteIpBlocks: ['1.2.3.4'] }),
    src({ remoteIpBlocks: ['1.2.3'] }),
    'spec.rules[0].from[0].source.remoteIpBlocks[0]',
    'bad IP address',
  ],
  [
    'trust domains have no slash',
    src({ trustDomains: ['td.local'] }),
    src({ trustDomains: ['td/x'] }),
    'spec.rules[0].from[0].source.trustDomains[0]',
    "must not contain '/'",
  ],
  [
    'ports are valid',
    op({ ports: ['8080'] }),
    op({ notPorts: ['70000'] }),
    'spec.rules[0].to[0].operation.notPorts[0]',
    'bad port',
  ],
  [
    '{**} is last',
    op({ paths: ['/a/{*}/{**}'] }),
    op({ paths: ['/a/{**}/{*}'] }),
    'spec.rules[0].to[0].operation.paths[0]',
    '{**} is not the last operator',
  ],
  [
    'no stray braces',
    op({ paths: ['/a/{*}'] }),
    op({ paths: ['/foo/{*}.txt'] }),
    'spec.rules[0].to[0].operation.paths[0]',
    "contains '{' or '}'",
  ],
  [
    'when needs values',
    when({ key: 'source.ip', values: ['1.2.3.4'] }),
    when({ key: 'source.ip' }),
    'spec.rules[0].when[0]',
    'at least one of `values` or `notValues` must be set',
  ],
  [
    'when key is known',
    when({ key: 'request.headers[x-a]', notValues: ['b'] }),
    when({ key: 'destination.labels[app]', values: ['b'] }),
    'spec.rules[0].when[0].key',
    'replaced by the workload selector',
  ],
  [
    'when map key format',
    when({ key: 'request.auth.claims[groups]', values: ['g'] }),
    when({ key: 'request.auth.claims[]', values: ['g'] }),
    'spec.rules[0].when[0].key',
    'should have format a[b]',
  ],
  [
    'when values checked per key',
    when({ key: 'destination.port', values: ['80'] }),
    when({ key: 'destination.port', values: ['http'] }),
    'spec.rules[0].when[0].values[0]',
    'bad port',
  ],
  [
    'selector xor targetRefs',
    { targetRefs: [{ kind: 'Service', name: 's' }] },
    { selector: sel, targetRef: { kind: 'Service', name: 's' } },
    'spec',
    'only one of targetRefs or selector can be set',
  ],
  [
    'unknown fields rejected',
    { action: 'AUDIT', rules: [{}] },
    { action: 'ALLOW', rule: [] },
    'spec.rule',
    'unknown field',
  ],
]);

const override = (o: Record<string, unknown>) => ({
  metrics: [{ overrides: [{ tagOverrides: { foo: o } }] }],
});
table('Telemetry', [
  [
    'sampling 0-100',
    { tracing: [{ randomSamplingPercentage: 100 }] },
    { tracing: [{ randomSamplingPercentage: 100.5 }] },
    'spec.tracing[0].randomSamplingPercentage',
    'randomSamplingPercentage must be in range [0.0, 100.0]',
  ],
  [
    'provider names',
    { accessLogging: [{ providers: [{ name: 'envoy' }] }] },
    { accessLogging: [{ providers: [{ name: '' }] }] },
    'spec.accessLogging[0].providers[0].name',
    'at least 1 chars',
  ],
  [
    'UPSERT needs value',
    override({ operation: 'UPSERT', value: 'x' }),
    override({}),
    'spec.metrics[0].overrides[0].tagOverrides.foo',
    'value must be set when operation is UPSERT',
  ],
  [
    'REMOVE forbids value',
    override({ operation: 'REMOVE' }),
    override({ operation: 'REMOVE', value: '' }),
    'spec.metrics[0].overrides[0].tagOverrides.foo.value',
    'value must not be set when operation is REMOVE',
  ],
  [
    'metric xor customMetric',
    { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT' } }] }] },
    { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT', customMetric: 'x' } }] }] },
    'spec.metrics[0].overrides[0].match',
    'only one of metric or customMetric',
  ],
  [
    'reportingInterval duration',
    { metrics: [{ reportingInterval: '10s' }] },
    { metrics: [{ reportingInterval: '0s' }] },
    'spec.metrics[0].reportingInterval',
    'must be a valid duration greater than 1ms',
  ],
  [
    // Balanced and quoted, yet not CEL: only a parser sees it (cel-go Parse in istiod's webhook).
    'access log filter is parsed as CEL',
    {
      accessLogging: [
        { filter: { expression: "!request.url_path.startsWith('/healthz') && response.code >= 400" } },
      ],
    },
    { accessLogging: [{ filter: { expression: 'response.code >=' } }] },
    'spec.accessLogging[0].filter.expression',
    'must be a valid CEL expression',
  ],
  [
    'access log filter is CEL',
    { accessLogging: [{ filter: { expression: 'response.code >= 400' } }] },
    { accessLogging: [{ filter: { expression: 'response.code >= (400' } }] },
    'spec.accessLogging[0].filter.expression',
    'must be a valid CEL expression',
  ],
  [
    'one custom tag kind',
    { tracing: [{ customTags: { t: { literal: { value: 'v' } } } }] },
    { tracing: [{ customTags: { t: { literal: { value: 'v' }, header: { name: 'h' } } } }] },
    'spec.tracing[0].customTags.t',
    'only one of literal',
  ],
]);

const patch = (p: Record<string, unknown>) => ({ configPatches: [p] });
table('EnvoyFilter', [
  [
    'applyTo required',
    patch({ applyTo: 'CLUSTER', patch: { operation: 'REMOVE' } }),
    patch({ patch: { operation: 'REMOVE' } }),
    'spec.configPatches[0].applyTo',
    'Envoy filter: missing applyTo',
  ],
  [
    'operation required',
    patch({ applyTo: 'CLUSTER', patch: { operation: 'REMOVE' } }),
    patch({ applyTo: 'CLUSTER', patch: {} }),
    'spec.configPatches[0].patch.operation',
    'missing patch operation',
  ],
  [
    'value for non-REMOVE',
    patch({ applyTo: 'CLUSTER', patch: { operation: 'ADD', value: { name: 'c' } } }),
    patch({ applyTo: 'CLUSTER', patch: { operation: 'ADD' } }),
    'spec.configPatches[0].patch.value',
    'missing patch value for non-remove operation',
  ],
  [
    'operation enum',
    patch({ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: {} } }),
    patch({ applyTo: 'CLUSTER', patch: { operation: 'UPSERT', value: {} } }),
    'spec.configPatches[0].patch.operation',
    'Unsupported value',
  ],
  [
    'listener class needs listener match',
    patch({ applyTo: 'NETWORK_FILTER', match: { listener: {} }, patch: { operation: 'REMOVE' } }),
    patch({ applyTo: 'NETWORK_FILTER', match: { cluster: {} }, patch: { operation: 'REMOVE' } }),
    'spec.configPatches[0].match',
    'cannot have non listener match',
  ],
  [
    'subFilter only for HTTP_FILTER',
    patch({
      applyTo: 'HTTP_FILTER',
      match: {
        listener: {
          filterChain: {
            filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'r' } },
          },
        },
      },
      patch: { operation: 'REMOVE' },
    }),
    patch({
      applyTo: 'NETWORK_FILTER',
      match: {
        listener: {
          filterChain: {
            filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'r' } },
          },
        },
      },
      patch: { operation: 'REMOVE' },
    }),
    'spec.configPatches[0].match.listener.filterChain.filter.subFilter',
    'subfilter match can be used with applyTo HTTP_FILTER only',
  ],
  [
    'route class needs routeConfiguration',
    patch({ applyTo: 'HTTP_ROUTE', match: { routeConfiguration: {} }, patch: { operation: 'REMOVE' } }),
    patch({ applyTo: 'HTTP_ROUTE', match: { listener: {} }, patch: { operation: 'REMOVE' } }),
    'spec.configPatches[0].match',
    'non route configuration match',
  ],
  [
    'proxyVersion regex',
    patch({
      applyTo: 'CLUSTER',
      match: { proxy: { proxyVersion: '^1\\.2.*' } },
      patch: { operation: 'REMOVE' },
    }),
    patch({ applyTo: 'CLUSTER', match: { proxy: { proxyVersion: '1.(2' } }, patch: { operation: 'REMOVE' } }),
    'spec.configPatches[0].match.proxy.proxyVersion',
    'invalid regex for proxy version',
  ],
  [
    'waypoint match with WAYPOINT',
    patch({
      applyTo: 'CLUSTER',
      match: { context: 'WAYPOINT', waypoint: {} },
      patch: { operation: 'REMOVE' },
    }),
    patch({
      applyTo: 'CLUSTER',
      match: { context: 'GATEWAY', waypoint: {} },
      patch: { operation: 'REMOVE' },
    }),
    'spec.configPatches[0].match',
    'only support waypointMatch when context is WAYPOINT',
  ],
  [
    'selector xor targetRefs',
    { workloadSelector: { labels: { a: 'b' } } },
    { workloadSelector: { labels: { a: 'b' } }, targetRefs: [{ kind: 'Service', name: 's' }] },
    'spec',
    'only one of targetRefs or workloadSelector can be set',
  ],
  [
    'selector values without wildcard',
    { workloadSelector: { labels: { a: 'b' } } },
    { workloadSelector: { labels: { a: 'b*' } } },
    'spec.workloadSelector.labels.a',
    'wildcard is not supported in selector',
  ],
]);

table('WasmPlugin', [
  [
    'url schemes',
    { url: 'oci://ghcr.io/x/y:1' },
    { url: 'ftp://x' },
    'spec.url',
    'url must have schema one of',
  ],
  [
    'sha256 pattern',
    { url: 'http://x', sha256: 'a'.repeat(64) },
    { url: 'http://x', sha256: 'A'.repeat(64) },
    'spec.sha256',
    'in body should match',
  ],
  [
    'env names unique',
    { url: 'http://x', vmConfig: { env: [{ name: 'a' }, { name: 'b' }] } },
    { url: 'http://x', vmConfig: { env: [{ name: 'a' }, { name: 'a' }] } },
    'spec.vmConfig.env[1]',
    'Duplicate value',
  ],
  [
    'match ports in range',
    { url: 'http://x', match: [{ ports: [{ number: 80 }] }] },
    { url: 'http://x', match: [{ ports: [{ number: 0 }] }] },
    'spec.match[0].ports[0].number',
    'greater than or equal to 1',
  ],
]);

table('ProxyConfig', [
  [
    'concurrency not negative',
    { concurrency: 0 },
    { concurrency: -2 },
    'spec.concurrency',
    'greater than or equal to 0',
  ],
  [
    'selector key not empty',
    { selector: { matchLabels: {} } },
    { selector: { matchLabels: { '': 'x' } } },
    'spec.selector.matchLabels',
    'key must not be empty',
  ],
]);

describe('policy warnings', () => {
  it('warns when a selector has no labels, as Istio does', () => {
    const f = validate('PeerAuthentication', { selector: {} });
    expect(f.map((x) => [x.level, formatPath(x.path), x.message])).toEqual([
      ['Warning', 'spec.selector', 'workload selector specified without labels'],
    ]);
  });

  it('warns when a DENY rule uses only HTTP fields', () => {
    const f = validate('AuthorizationPolicy', {
      action: 'DENY',
      rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
    });
    expect(f.map((x) => [x.level, formatPath(x.path)])).toEqual([['Warning', 'spec.rules[0]']]);
  });

  it('rejects a null spec as an object is required', () => {
    const f = validate('WasmPlugin', null);
    expect(f.map((x) => [formatPath(x.path), x.message])).toEqual([['spec', 'expected an object, got null']]);
  });
});
