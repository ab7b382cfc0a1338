import { describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
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

/** An ALLOW policy with one rule, for `httpbin` in `foo`. */
function allow(rule: string): string {
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
${rule}
`;
}

type Row = [name: string, req: Partial<InboundRequest>, want: 'allow' | number];

async function run(yaml: string, rows: Row[], meshConfig: Partial<MeshConfig> = {}, tokens = {}) {
  const engine = engineFor(planOf(yaml, { meshConfig }), { jwt: fakeJwt(tokens) });
  const got = [];
  for (const [name, req] of rows) got.push([name, verdict(await engine.decide(request(req)))]);
  expect(got).toEqual(rows.map(([name, , want]) => [name, want]));
}

describe('AuthorizationPolicy operation fields', () => {
  it('matches paths exactly, by prefix, by suffix and by template', async () => {
    await run(
      allow(
        `  - to: [{ operation: { paths: ["/exact", "/prefix/*", "*/suffix", "/t/{*}/x", "/files/{**}"] } }]`,
      ),
      [
        ['exact', { url: '/exact' }, 'allow'],
        ['exact with query', { url: '/exact?a=b' }, 'allow'],
        ['exact plus slash', { url: '/exact/' }, 403],
        ['prefix', { url: '/prefix/a/b' }, 'allow'],
        ['prefix without slash', { url: '/prefix' }, 403],
        ['suffix', { url: '/a/b/suffix' }, 'allow'],
        ['{*} one segment', { url: '/t/abc/x' }, 'allow'],
        ['{*} two segments', { url: '/t/a/b/x' }, 403],
        ['{*} empty segment', { url: '/t//x' }, 403],
        ['{**} many segments', { url: '/files/a/b/c.txt' }, 'allow'],
        ['{**} nothing', { url: '/files/' }, 'allow'],
        ['case-sensitive', { url: '/EXACT' }, 403],
      ],
    );
  });

  it('matches hosts case-insensitively without stripping the port', async () => {
    await run(allow(`  - to: [{ operation: { hosts: ["example.com", "*.suffix.com", "prefix.*"] } }]`), [
      ['exact', { authority: 'example.com' }, 'allow'],
      ['upper case', { authority: 'Example.COM' }, 'allow'],
      ['with a port', { authority: 'example.com:443' }, 403],
      ['trailing dot', { authority: 'example.com.' }, 403],
      ['suffix', { authority: 'a.SUFFIX.com' }, 'allow'],
      ['prefix', { authority: 'prefix.anything:80' }, 'allow'],
    ]);
  });

  it('matches methods case-sensitively and ports as the workload port', async () => {
    await run(allow(`  - to: [{ operation: { methods: ["GET"], notPorts: ["9000"] } }]`), [
      ['GET on 8000', { method: 'GET' }, 'allow'],
      ['POST', { method: 'POST' }, 403],
      ['GET on 9000', { method: 'GET', port: 9000 }, 403],
      ['lower-case method is refused before authorization', { method: 'get' }, 400],
    ]);
  });
});

describe('AuthorizationPolicy source fields', () => {
  it('matches principals, namespaces with wildcards and serviceAccounts', async () => {
    await run(
      allow(`  - from: [{ source: { principals: ["cluster.local/ns/a/sa/x", "*/sa/admin"] } }]
  - from: [{ source: { namespaces: ["team-*"] } }]
  - from: [{ source: { serviceAccounts: ["other/sa.one"] } }]`),
      [
        ['exact principal', { peer: peer('cluster.local/ns/a/sa/x') }, 'allow'],
        ['suffix principal', { peer: peer('cluster.local/ns/z/sa/admin') }, 'allow'],
        ['namespace wildcard', { peer: peer('cluster.local/ns/team-blue/sa/y') }, 'allow'],
        ['namespace wildcard miss', { peer: peer('cluster.local/ns/teams/sa/y') }, 403],
        ['serviceAccount', { peer: peer('cluster.local/ns/other/sa/sa.one') }, 'allow'],
        // CVE-2026-39350: the dot is literal.
        ['serviceAccount dot is not a wildcard', { peer: peer('cluster.local/ns/other/sa/saXone') }, 403],
        ['no peer', {}, 403],
      ],
    );
  });

  it('expands cluster.local principals to the mesh trust domain and aliases', async () => {
    await run(
      allow(`  - from: [{ source: { principals: ["cluster.local/ns/a/sa/x"] } }]`),
      [
        ['new trust domain', { peer: peer('new.td/ns/a/sa/x') }, 'allow'],
        ['alias', { peer: peer('old.td/ns/a/sa/x') }, 'allow'],
        ['cluster.local itself is not in the bundle', { peer: peer('cluster.local/ns/a/sa/x') }, 403],
      ],
      { trustDomain: 'new.td', trustDomainAliases: ['old.td'] },
    );
  });

  it('reads ipBlocks from the direct peer and remoteIpBlocks from X-Forwarded-For per numTrustedProxies', async () => {
    const yaml = allow(`  - from: [{ source: { ipBlocks: ["10.1.0.0/16"] } }]
  - from: [{ source: { remoteIpBlocks: ["203.0.113.7", "2001:db8::/32"] } }]`);
    await run(yaml, [
      ['direct peer in ipBlocks', { sourceIp: '10.1.2.3' }, 'allow'],
      ['IPv4-mapped peer', { sourceIp: '::ffff:10.1.2.3' }, 'allow'],
      // A sidecar (httpbin) takes remote.ip from the rightmost XFF entry (istiod sets
      // use_remote_address: false on sidecar inbound listeners), whatever numTrustedProxies says.
      ['a sidecar reads the rightmost XFF entry', { headers: { 'x-forwarded-for': '203.0.113.7' } }, 'allow'],
      [
        'a sidecar: an entry left of the rightmost is not it',
        { headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' } },
        403,
      ],
      [
        'a sidecar: XFF that is not an address falls back to the peer',
        { headers: { 'x-forwarded-for': 'unknown' } },
        403,
      ],
    ]);
    await run(
      yaml,
      [
        ['client from XFF', { headers: { 'x-forwarded-for': '203.0.113.7' } }, 'allow'],
        ['IPv6 client', { headers: { 'x-forwarded-for': '2001:db8::1' } }, 'allow'],
        ['spoofed left entry', { headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' } }, 403],
        ['no XFF falls back to the peer', { sourceIp: '203.0.113.7' }, 'allow'],
      ],
      { numTrustedProxies: 1 },
    );
  });

  it('splits requestPrincipals at the last slash and never matches a token without sub', async () => {
    await run(
      REQUEST_AUTHENTICATION +
        allow(`  - from: [{ source: { requestPrincipals: ["https://issuer.example/*", "*@corp"] } }]`),
      [
        ['issuer URL with any sub', { headers: { authorization: 'Bearer url' } }, 'allow'],
        ['sub suffix', { headers: { authorization: 'Bearer corp' } }, 'allow'],
        ['no sub', { headers: { authorization: 'Bearer nosub' } }, 403],
        ['no token', {}, 403],
        ['bad token is 401 before authorization', { headers: { authorization: 'Bearer forged' } }, 401],
      ],
      {},
      {
        url: token({ iss: 'https://issuer.example', sub: 'u1' }),
        corp: token({ iss: 'other', sub: 'bob@corp' }),
        nosub: token({ iss: 'https://issuer.example' }),
      },
    );
  });
});

describe('AuthorizationPolicy when conditions', () => {
  it('matches claims that are lists, nested or space-delimited, and never booleans', async () => {
    await run(
      REQUEST_AUTHENTICATION +
        allow(`  - when:
    - key: request.auth.claims[groups]
      values: ["admins"]
  - when:
    - key: request.auth.claims[realm][role]
      values: ["ops"]
  - when:
    - key: request.auth.claims[scope]
      values: ["write"]
  - when:
    - key: request.auth.claims[admin]
      values: ["true"]`),
      [
        ['list claim', { headers: { authorization: 'Bearer groups' } }, 'allow'],
        ['nested claim', { headers: { authorization: 'Bearer nested' } }, 'allow'],
        ['space-delimited scope', { headers: { authorization: 'Bearer scope' } }, 'allow'],
        ['boolean claim', { headers: { authorization: 'Bearer bool' } }, 403],
      ],
      {},
      {
        groups: token({ iss: 'i', sub: 's', groups: ['users', 'admins'] }),
        nested: token({ iss: 'i', sub: 's', realm: { role: 'ops' } }),
        scope: token({ iss: 'i', sub: 's', scope: 'read write' }),
        bool: token({ iss: 'i', sub: 's', admin: true }),
      },
    );
  });

  it('matches each value of a repeated header on its own', async () => {
    // Envoy 1.37.1 changelog (rbac): "Fixed RBAC header matcher to validate each header
    // value individually instead of concatenating multiple header values into a single
    // string" (runtime guard envoy.reloadable_features.rbac_match_headers_individually,
    // CVE-2026-26308 / Istio CVE-2026-31838). Before, the joined "user,admin" was matched.
    await run(
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: d, namespace: foo }
spec:
  action: DENY
  rules:
  - when:
    - key: request.headers[X-Role]
      values: ["admin", "a,b"]
`,
      [
        ['single admin', { headers: { 'x-role': 'admin' } }, 403],
        ['repeated user and admin', { headers: { 'x-role': ['user', 'admin'] } }, 403],
        ['one comma-joined value', { headers: { 'x-role': 'user,admin' } }, 'allow'],
        ['repeated a and b', { headers: { 'x-role': ['a', 'b'] } }, 'allow'],
        ['one value a,b', { headers: { 'x-role': 'a,b' } }, 403],
        ['user', { headers: { 'x-role': 'user' } }, 'allow'],
      ],
    );
  });

  it('notValues on a repeated header holds only when no value matches', async () => {
    await run(
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: d, namespace: foo }
spec:
  action: DENY
  rules:
  - when:
    - key: request.headers[x-role]
      notValues: ["user"]
`,
      [
        ['repeated user and admin', { headers: { 'x-role': ['user', 'admin'] } }, 'allow'],
        ['repeated admin and ops', { headers: { 'x-role': ['admin', 'ops'] } }, 403],
        ['user', { headers: { 'x-role': 'user' } }, 'allow'],
      ],
    );
  });

  it('header conditions: several values, prefixes, `*` presence, and notValues on an absent header', async () => {
    // istio authz/matcher/header.go: `*` is present_match (an empty value counts); a
    // notValues condition holds when the header is absent.
    await run(
      allow(`  - when:
    - key: request.headers[x-tier]
      values: ["gold", "silver", "plat*"]
    - key: request.headers[x-block]
      notValues: ["yes", "y*"]
  - when:
    - key: request.headers[x-any]
      values: ["*"]`),
      [
        ['gold', { headers: { 'x-tier': 'gold' } }, 'allow'],
        ['prefix', { headers: { 'x-tier': 'platinum' } }, 'allow'],
        ['other tier', { headers: { 'x-tier': 'bronze' } }, 403],
        ['no tier', {}, 403],
        ['blocked', { headers: { 'x-tier': 'silver', 'x-block': 'yes' } }, 403],
        ['blocked by prefix', { headers: { 'x-tier': 'silver', 'x-block': 'yeah' } }, 403],
        ['not blocked', { headers: { 'x-tier': 'silver', 'x-block': 'no' } }, 'allow'],
        ['empty x-any is present', { headers: { 'x-any': '' } }, 'allow'],
      ],
    );
  });

  it('matches source.ip, destination.port, connection.sni and never envoy filter metadata', async () => {
    await run(
      allow(`  - when:
    - key: source.ip
      values: ["10.0.0.0/8"]
    - key: destination.port
      values: ["8000"]
    - key: connection.sni
      values: ["*.svc.cluster.local"]
    - key: experimental.envoy.filters.http.x[k]
      notValues: ["v"]
  - when:
    - key: experimental.envoy.filters.http.x[k]
      values: ["*"]`),
      [
        ['all hold', { sni: 'httpbin.foo.svc.cluster.local' }, 'allow'],
        ['no SNI', {}, 403],
        ['other port', { sni: 'httpbin.foo.svc.cluster.local', port: 9000 }, 403],
        ['other source', { sni: 'httpbin.foo.svc.cluster.local', sourceIp: '192.168.0.1' }, 403],
      ],
    );
  });

  it('denies without mTLS with the DENY notPrincipals idiom', async () => {
    await run(
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-mtls, namespace: foo }
spec:
  action: DENY
  rules:
  - from: [{ source: { notPrincipals: ["*"] } }]
`,
      [
        ['plaintext', {}, 403],
        ['mTLS', { peer: peer('cluster.local/ns/a/sa/b') }, 'allow'],
      ],
    );
  });
});
