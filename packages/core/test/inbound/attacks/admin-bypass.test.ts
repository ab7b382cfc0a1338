import { describe, expect, it } from 'vitest';
import type { PathNormalization } from '../../../src/config/mesh-config.js';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import {
  engineFor,
  fakeJwt,
  peer,
  planOf,
  request,
  REQUEST_AUTHENTICATION,
  token,
  verdict,
} from '../engine/support.js';

/**
 * spec/security.md §4: every listed input against a policy protecting `/admin`,
 * with the decision Istio makes under each normalization. DENY + `paths` is the
 * bypass-prone form (Istio's best practices say so); ALLOW by positive match is
 * the safe one: nothing but `/public...` and `/` reaches the app without the admin identity.
 */
const DENY_ADMIN = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin", "/admin/*"] } }]
`;

const ALLOW_PUBLIC = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-public, namespace: foo }
spec:
  rules:
  - to: [{ operation: { paths: ["/", "/public", "/public/*"] } }]
  - from: [{ source: { principals: ["cluster.local/ns/ops/sa/admin"] } }]
`;

type D = 'allow' | 403 | 400;
// url, then the DENY policy's decision under BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES.
const paths: [string, D, D, D][] = [
  ['/admin', 403, 403, 403],
  ['//admin', 'allow', 403, 403],
  ['///admin', 'allow', 403, 403],
  ['/./admin', 403, 403, 403],
  ['/x/../admin', 403, 403, 403],
  ['/x/%2e%2e/admin', 403, 403, 403],
  ['/%2e%2e/admin', 403, 403, 403],
  ['/%61dmin', 403, 403, 403],
  ['/admin%2F', 'allow', 'allow', 403],
  ['/x%2F..%2Fadmin', 'allow', 'allow', 403],
  ['/admin%2fsecret', 'allow', 'allow', 403],
  ['\\admin', 403, 403, 403],
  ['/x\\..\\admin', 403, 403, 403],
  ['/%5Cadmin', 'allow', 'allow', 403],
  ['/Admin', 'allow', 'allow', 'allow'],
  ['/ADMIN', 'allow', 'allow', 'allow'],
  ['/admin#x', 403, 403, 403],
  ['/admin?x=1', 403, 403, 403],
  ['/admin;x=1', 'allow', 'allow', 'allow'],
  ['/admin/', 403, 403, 403],
  ['/admin%00', 400, 400, 400],
  ['/admin%252F', 'allow', 'allow', 'allow'],
  ['/%252e%252e/admin', 'allow', 'allow', 'allow'],
];

const MODES: PathNormalization[] = ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

async function decideAll(yaml: string, mode: PathNormalization, reqs: Partial<InboundRequest>[]) {
  const engine = engineFor(planOf(yaml, { meshConfig: { pathNormalization: mode } }));
  return Promise.all(reqs.map((r) => engine.decide(request(r))));
}

describe('attack inputs against /admin', () => {
  describe.each(MODES.map((m, i) => [m, i] as const))('%s', (mode, col) => {
    it('DENY paths: the decision Istio makes for each path', async () => {
      const got = await decideAll(
        DENY_ADMIN,
        mode,
        paths.map(([url]) => ({ url })),
      );
      expect(paths.map(([url], i) => [url, verdict(got[i]!)])).toEqual(
        paths.map((row) => [row[0], row[col + 1]]),
      );
    });

    it('DENY paths: an allowed request carries the path that was checked', async () => {
      const got = await decideAll(
        DENY_ADMIN,
        mode,
        paths.map(([url]) => ({ url })),
      );
      for (const d of got) {
        if (!d.allow) continue;
        // The app must route on this, and it never resolves to the protected path.
        const path = d.url.split('?')[0]!;
        expect(path === '/admin' || path.startsWith('/admin/')).toBe(false);
      }
    });

    it('ALLOW by positive match: no variant reaches the app without the admin identity', async () => {
      const got = await decideAll(
        ALLOW_PUBLIC,
        mode,
        paths.map(([url]) => ({ url })),
      );
      expect(got.map(verdict)).toEqual(paths.map(([url]) => (url.includes('%00') ? 400 : 403)));
      const admin = await decideAll(ALLOW_PUBLIC, mode, [
        { url: '/admin', peer: peer('cluster.local/ns/ops/sa/admin') },
        { url: '/public/../public/x?y=1', peer: null },
      ]);
      expect(admin.map((d) => (d.allow ? d.url : d.status))).toEqual(['/admin', '/public/x?y=1']);
    });
  });

  const HOSTS = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-host, namespace: foo }
spec:
  action: DENY
  rules:
  - to: [{ operation: { hosts: ["example.com"], paths: ["/admin"] } }]
`;
  it.each([
    ['Example.COM', 403],
    ['example.com:443', 'allow'],
    ['example.com.', 'allow'],
  ] as const)(
    'DENY hosts: Host %s → %s (case-insensitive, port and dot not stripped)',
    async (authority, want) => {
      const [d] = await decideAll(HOSTS, 'BASE', [{ url: '/admin', authority }]);
      expect(verdict(d!)).toBe(want);
    },
  );

  it.each(['get', 'GeT'])('refuses the method %s with 400 before any policy', async (method) => {
    const [d] = await decideAll(DENY_ADMIN, 'BASE', [{ url: '/admin', method }]);
    expect(verdict(d!)).toBe(400);
    expect(d!.allow ? null : d!.reason.stage).toBe('normalize');
  });

  const ROLE = (action: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: role, namespace: foo }
spec:
  action: ${action}
  rules:
  - to: [{ operation: { paths: ["/admin"] } }]
    when: [{ key: "request.headers[X-Role]", values: ["admin"] }]
`;
  // Each value of a repeated header is matched on its own (Envoy 1.37.1 changelog, rbac:
  // rbac_match_headers_individually; CVE-2026-26308): repeating a header no longer hides a value.
  it.each([
    ['DENY', ['user', 'admin'], 403],
    ['DENY', 'user,admin', 'allow'],
    ['DENY', 'admin', 403],
    ['ALLOW', ['user', 'admin'], 'allow'],
    ['ALLOW', 'user,admin', 403],
    ['ALLOW', 'admin', 'allow'],
  ] as const)('%s on X-Role: %j → %s (each repeated value is matched)', async (action, role, want) => {
    const [d] = await decideAll(ROLE(action), 'BASE', [{ url: '/admin', headers: { 'x-role': role } }]);
    expect(verdict(d!)).toBe(want);
  });

  it('never takes identity from a forged X-Forwarded-Client-Cert or X-Forwarded-For', async () => {
    const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: admins, namespace: foo }
spec:
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/ops/sa/admin"] } }]
  - from: [{ source: { ipBlocks: ["10.99.0.0/16"] } }]
`;
    const got = await decideAll(yaml, 'BASE', [
      {
        url: '/admin',
        headers: {
          'x-forwarded-client-cert':
            'By=spiffe://cluster.local/ns/foo/sa/httpbin;URI=spiffe://cluster.local/ns/ops/sa/admin',
        },
      },
      { url: '/admin', headers: { 'x-forwarded-for': '10.99.1.1' } },
    ]);
    expect(got.map(verdict)).toEqual([403, 403]);
  });

  it("lets X-Forwarded-For set remote.ip on a sidecar, as Istio's does: remoteIpBlocks is not a peer check", async () => {
    // istiod builds sidecar inbound listeners with use_remote_address: false and no trusted
    // hops (listener_inbound.go), so Envoy takes remote.ip from the rightmost XFF entry
    // (conn_manager_utility.cc). A policy that must hold against the caller uses ipBlocks.
    const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: office, namespace: foo }
spec:
  rules:
  - from: [{ source: { remoteIpBlocks: ["10.99.0.0/16"] } }]
`;
    const got = await decideAll(yaml, 'BASE', [
      { url: '/admin', headers: { 'x-forwarded-for': '10.99.1.1' } },
      { url: '/admin', headers: { 'x-forwarded-for': '10.99.1.1, 192.0.2.1' } },
      { url: '/admin' },
    ]);
    expect(got.map(verdict)).toEqual(['allow', 403, 403]);
  });

  it('stops at RequestAuthentication: a refused token is 401 even for a public path, a token without sub is no principal', async () => {
    const yaml =
      REQUEST_AUTHENTICATION +
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: foo }
spec:
  action: DENY
  rules:
  - from: [{ source: { notRequestPrincipals: ["*"] } }]
    to: [{ operation: { paths: ["/admin"] } }]
`;
    const engine = engineFor(planOf(yaml), {
      jwt: fakeJwt({
        nosub: token({ iss: 'https://issuer.example' }),
        ok: token({ iss: 'https://issuer.example', sub: 'u' }),
      }),
    });
    const got = await Promise.all(
      [
        { url: '/public', headers: { authorization: 'Bearer alg-none' } },
        { url: '/admin', headers: { authorization: 'Bearer nosub' } },
        { url: '/admin', headers: { authorization: 'Bearer ok' } },
        { url: '/admin' },
      ].map((r) => engine.decide(request(r))),
    );
    expect(got.map(verdict)).toEqual([401, 403, 'allow', 403]);
    expect(got[0]!.allow ? null : got[0]!.headers['www-authenticate']).toMatch(/invalid_token/);
  });
});
