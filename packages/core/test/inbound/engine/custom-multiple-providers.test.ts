import { describe, expect, it } from 'vitest';
import { istiodFeaturesFromEnv } from '../../../src/compile/istiod-features.js';
import { extAuthzHttpProvider, useExtAuthzServers, type Seen } from './ext-authz-http-server.js';
import { engineFor, planOf, request, sample, verdict } from './support.js';

// Istio 1.30 runs several CUSTOM providers on one workload when istiod has
// PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS=true (pilot/pkg/features/security.go): one
// shadow RBAC and ext_authz filter pair per provider, in provider-name order, each ext_authz
// asked only for the requests its own provider's policies match (authz/builder builder.go
// buildHTTP, generateFilterMatcherForProvider). Every provider asked must allow
// (tests/integration/security/authz_multiple_providers_test.go, "AND semantics").

const { authzServer } = useExtAuthzServers();
const MULTIPLE = { enableMultipleCustomAuthzProviders: true };

/** A server that allows unless the request carries `x-ext-authz: deny`, and names itself in `x-user`. */
function namedServer(name: string, order: string[]) {
  return authzServer((req, res) => {
    order.push(name);
    if (req.headers['x-ext-authz'] === 'deny') {
      res.statusCode = 403;
      res.end(`denied by ${name}`);
      return;
    }
    const before = req.headers['x-user'];
    res.setHeader('x-user', `${typeof before === 'string' ? before : ''}${name};`);
    res.end();
  });
}

const OVERLAPPING = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: api-broad, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: z-oauth }
  rules:
  - to: [{ operation: { paths: ["/api/*"], methods: ["GET"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: api-specific, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: a-ldap }
  rules:
  - to: [{ operation: { paths: ["/api/admin", "/api/admin/*"], methods: ["GET"] } }]
`;

async function overlapping() {
  const order: string[] = [];
  const ldap = await namedServer('a-ldap', order);
  const oauth = await namedServer('z-oauth', order);
  const checkUser = { includeRequestHeadersInCheck: ['x-ext-authz', 'x-user'] };
  const plan = planOf(OVERLAPPING, {
    istiodFeatures: MULTIPLE,
    meshConfig: {
      extensionProviders: [
        { ...extAuthzHttpProvider(oauth.port, checkUser), name: 'z-oauth' },
        { ...extAuthzHttpProvider(ldap.port, checkUser), name: 'a-ldap' },
      ],
    },
  });
  return { order, ldap, oauth, engine: engineFor(plan) };
}

describe('several CUSTOM providers on one workload (PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS)', () => {
  it("asks each provider only for its own policies' paths (non-overlapping)", async () => {
    const one = await authzServer((_req, res) => res.end());
    const two = await authzServer((_req, res) => res.end());
    const plan = planOf(sample('authz/http/custom-bad-multiple-providers-in.yaml'), {
      istiodFeatures: MULTIPLE,
      meshConfig: {
        extensionProviders: [
          extAuthzHttpProvider(one.port),
          { ...extAuthzHttpProvider(two.port), name: 'another' },
        ],
      },
    });
    const engine = engineFor(plan);
    const results = [
      await engine.decide(request({ url: '/httpbin1' })),
      await engine.decide(request({ url: '/httpbin2' })),
      await engine.decide(request({ url: '/elsewhere' })),
    ];
    expect(results.map(verdict)).toEqual(['allow', 'allow', 'allow']);
    expect(one.seen.map((s: Seen) => s.url)).toEqual(['/check/httpbin1']);
    expect(two.seen.map((s: Seen) => s.url)).toEqual(['/check/httpbin2']);
  });

  it('asks every matching provider in name order, each seeing the earlier ones\u2019 header edits, and lets the request through only when all allow', async () => {
    const { order, ldap, oauth, engine } = await overlapping();
    const both = await engine.decide(request({ url: '/api/admin/users' }));
    expect(verdict(both)).toBe('allow');
    expect(order).toEqual(['a-ldap', 'z-oauth']);
    // z-oauth's check carries the x-user a-ldap set for the upstream.
    expect(oauth.seen[0]?.headers['x-user']).toBe('a-ldap;');
    expect(both.allow && both.setHeaders).toEqual({
      'x-forwarded-proto': 'http',
      'x-user': 'a-ldap;z-oauth;',
    });

    order.length = 0;
    const broad = await engine.decide(request({ url: '/api/users' }));
    expect(verdict(broad)).toBe('allow');
    expect(order).toEqual(['z-oauth']);
    expect(ldap.seen).toHaveLength(1);
  });

  it('denies when the first provider asked denies, without asking the next', async () => {
    const { order, engine } = await overlapping();
    const d = await engine.decide(request({ url: '/api/admin/config', headers: { 'x-ext-authz': 'deny' } }));
    expect(d.allow ? null : [d.status, d.body, d.flags, d.reason.policy]).toEqual([
      403,
      'denied by a-ldap',
      ['UAEX'],
      'foo/api-specific',
    ]);
    expect(order).toEqual(['a-ldap']);
  });

  it("fails closed only the policies of a provider istiod cannot build, and still asks the others'", async () => {
    const one = await authzServer((_req, res) => res.end());
    const plan = planOf(sample('authz/http/custom-bad-multiple-providers-in.yaml'), {
      istiodFeatures: MULTIPLE,
      // `another` is not among the extension providers.
      meshConfig: { extensionProviders: [extAuthzHttpProvider(one.port)] },
    });
    const engine = engineFor(plan);
    expect(verdict(await engine.decide(request({ url: '/httpbin1' })))).toBe('allow');
    const bad = await engine.decide(request({ url: '/httpbin2' }));
    expect(bad.allow ? null : [bad.status, bad.reason.responseCodeDetails]).toEqual([
      403,
      'rbac_access_denied_matched_policy[istio-ext-authz-another-ns[foo]-policy[httpbin-2]-rule[0]-deny-due-to-bad-CUSTOM-action]',
    ]);
    expect(one.seen.map((s: Seen) => s.url)).toEqual(['/check/httpbin1']);
  });

  it("leaves each provider's shadow RBAC result in the request's metadata, the later provider's last", async () => {
    // One `envoy.filters.http.rbac` struct: each provider's filter merges its fields into it
    // (prefix istio_ext_authz_, authz/model/model.go), and the policy id names the provider
    // (builder.go policyName). The effective policy id stays from the last filter that matched.
    const { engine } = await overlapping();
    const rbac = async (url: string) => {
      const d = await engine.decide(request({ url }));
      expect(verdict(d)).toBe('allow');
      return d.metadata?.['envoy.filters.http.rbac'];
    };
    expect(await rbac('/api/admin')).toEqual({
      istio_ext_authz_shadow_engine_result: 'denied',
      istio_ext_authz_shadow_effective_policy_id: 'istio-ext-authz-z-oauth-ns[foo]-policy[api-broad]-rule[0]',
    });
    // Only a-ldap (first in name order) does not match: z-oauth's filter writes last.
    expect(await rbac('/api/items')).toEqual({
      istio_ext_authz_shadow_engine_result: 'denied',
      istio_ext_authz_shadow_effective_policy_id: 'istio-ext-authz-z-oauth-ns[foo]-policy[api-broad]-rule[0]',
    });
    expect(await rbac('/elsewhere')).toEqual({ istio_ext_authz_shadow_engine_result: 'allowed' });
  });

  it('keeps the one-provider rule when the flag is off (the default)', async () => {
    const one = await authzServer((_req, res) => res.end());
    const two = await authzServer((_req, res) => res.end());
    const plan = planOf(sample('authz/http/custom-bad-multiple-providers-in.yaml'), {
      meshConfig: {
        extensionProviders: [
          extAuthzHttpProvider(one.port),
          { ...extAuthzHttpProvider(two.port), name: 'another' },
        ],
      },
    });
    expect(verdict(await engineFor(plan).decide(request({ url: '/httpbin1' })))).toBe(403);
    expect(one.seen).toEqual([]);
  });
});

describe('istiod feature flags from the environment', () => {
  it("reads PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS as Go's strconv.ParseBool does, false otherwise", () => {
    const flag = (v: string | undefined) =>
      istiodFeaturesFromEnv(v === undefined ? {} : { PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS: v })
        .enableMultipleCustomAuthzProviders;
    expect(['1', 't', 'T', 'TRUE', 'true', 'True'].map(flag)).toEqual(Array(6).fill(true));
    expect(['0', 'f', 'false', 'FALSE', 'yes', 'on', '', ' true'].map(flag)).toEqual(Array(8).fill(false));
    expect(flag(undefined)).toBe(false);
  });
});
