import { describe, expect, it } from 'vitest';
import type { AuthzInput } from '../../../src/inbound/authz/input.js';
import { evaluateRbac } from '../../../src/inbound/authz/evaluate.js';
import { parseIp } from '../../../src/inbound/authz/ip.js';
import { compileInbound } from '../../../src/inbound/engine-compile.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { peer, planOf, sample } from '../engine/support.js';
import { authzInput } from './support.js';

/**
 * Istio's own RBAC builder inputs (pilot/pkg/security/authz/builder/testdata/http/*-in.yaml),
 * each with requests derived from its rules and the decision Envoy makes with the
 * generated *-out.yaml. Evaluated at the authorization layer, because several use
 * lower-case "methods" the engine would refuse with 400 before authorization runs.
 */
interface Case {
  readonly name: string;
  readonly req: Partial<AuthzInput> & { peerPrincipal?: string };
  readonly want: 'allow' | 'deny';
  readonly shadow?: readonly { policy: string; action: string; result: string }[];
}

function input(req: Case['req']): AuthzInput {
  const { peerPrincipal, ...rest } = req;
  const p = peerPrincipal === undefined ? null : peer(peerPrincipal);
  return authzInput({ peer: p, peerUri: p === null ? null : `spiffe://${p.principal}`, ...rest });
}

const tables: [file: string, meshConfig: Partial<MeshConfig>, cases: Case[]][] = [
  [
    'allow-empty-rule-in.yaml',
    {},
    [
      { name: 'any request', req: { method: 'DELETE', path: '/x' }, want: 'allow' },
      { name: 'any peer', req: { peerPrincipal: 'cluster.local/ns/a/sa/b' }, want: 'allow' },
    ],
  ],
  ['allow-nil-rule-in.yaml', {}, [{ name: 'any request', req: {}, want: 'deny' }]],
  [
    'deny-empty-rule-in.yaml',
    {},
    [
      { name: 'any request', req: {}, want: 'deny' },
      { name: 'a verified peer', req: { peerPrincipal: 'cluster.local/ns/foo/sa/x' }, want: 'deny' },
    ],
  ],
  [
    'audit-full-rule-in.yaml',
    {},
    [
      {
        name: 'any request, marked',
        req: { path: '/anything' },
        want: 'allow',
        shadow: [{ policy: 'foo/audit-all', action: 'AUDIT', result: 'audit' }],
      },
    ],
  ],
  [
    // paths ["*", ...] and notPaths ["*", ...]: notPaths "*" excludes every path.
    'allow-path-in.yaml',
    {},
    [
      { name: '/exact', req: { path: '/exact' }, want: 'deny' },
      { name: '/path/template/x', req: { path: '/path/template/x' }, want: 'deny' },
    ],
  ],
  [
    'allow-host-before-111-in.yaml',
    {},
    [
      { name: 'example.com', req: { host: 'example.com' }, want: 'deny' },
      { name: 'no host', req: { host: '' }, want: 'deny' },
    ],
  ],
  [
    'allow-full-rule-in.yaml',
    {},
    [
      {
        name: 'serviceAccount my-ns/my-sa',
        req: { peerPrincipal: 'cluster.local/ns/my-ns/sa/my-sa' },
        want: 'allow',
      },
      {
        name: 'sa-only in the policy namespace',
        req: { peerPrincipal: 'cluster.local/ns/foo/sa/sa-only' },
        want: 'allow',
      },
      { name: 'sa-only elsewhere', req: { peerPrincipal: 'cluster.local/ns/bar/sa/sa-only' }, want: 'deny' },
      {
        name: 'notServiceAccounts',
        req: { peerPrincipal: 'cluster.local/ns/my-ns/sa/my-sa-not' },
        want: 'deny',
      },
      { name: 'a longer SA name', req: { peerPrincipal: 'cluster.local/ns/my-ns/sa/my-sa-x' }, want: 'deny' },
      { name: 'no peer', req: {}, want: 'deny' },
    ],
  ],
  [
    'deny-and-allow-in.yaml',
    {},
    [
      { name: 'denied principal', req: { peerPrincipal: 'deny' }, want: 'deny' },
      { name: 'allowed principal', req: { peerPrincipal: 'allow' }, want: 'allow' },
      { name: 'other principal', req: { peerPrincipal: 'other' }, want: 'deny' },
      { name: 'no peer', req: {}, want: 'deny' },
    ],
  ],
  [
    'dry-run-allow-and-deny-in.yaml',
    {},
    [
      {
        name: '/deny only reported',
        req: { path: '/deny' },
        want: 'allow',
        shadow: [
          { policy: 'foo/httpbin-2', action: 'DENY', result: 'deny' },
          { policy: 'foo/httpbin-1', action: 'ALLOW', result: 'deny' },
        ],
      },
      {
        name: '/allow reported allowed',
        req: { path: '/allow' },
        want: 'allow',
        shadow: [{ policy: 'foo/httpbin-1', action: 'ALLOW', result: 'allow' }],
      },
    ],
  ],
  [
    'dry-run-allow-in.yaml',
    {},
    [
      {
        name: '/exact',
        req: { path: '/exact' },
        want: 'allow',
        shadow: [{ policy: 'foo/httpbin-1', action: 'ALLOW', result: 'allow' }],
      },
      {
        name: '/other',
        req: { path: '/other' },
        want: 'allow',
        shadow: [{ policy: 'foo/httpbin-1', action: 'ALLOW', result: 'deny' }],
      },
    ],
  ],
  [
    'dry-run-mix-in.yaml',
    {},
    [
      {
        name: '/another by the enforced policy',
        req: { path: '/another' },
        want: 'allow',
        shadow: [{ policy: 'foo/httpbin-1', action: 'ALLOW', result: 'deny' }],
      },
      { name: '/allow only in dry-run', req: { path: '/allow' }, want: 'deny' },
    ],
  ],
  [
    'multiple-policies-in.yaml',
    {},
    [
      { name: 'GET (httpbin-1)', req: { method: 'GET', path: '/x' }, want: 'allow' },
      { name: 'PUT /v2 (httpbin-2)', req: { method: 'PUT', path: '/v2' }, want: 'allow' },
      { name: 'PUT to httpbin.org (httpbin-3)', req: { method: 'PUT', host: 'httpbin.org' }, want: 'allow' },
      { name: 'PUT on port 90 (httpbin-4)', req: { method: 'PUT', port: 90 }, want: 'allow' },
      {
        name: 'PUT from principals2 (httpbin-5)',
        req: { method: 'PUT', peerPrincipal: 'principals2' },
        want: 'allow',
      },
      {
        name: 'PUT with iss requestPrincipals1 (no "/", so sub must be "")',
        req: { method: 'PUT', claims: { iss: 'requestPrincipals1', sub: 'x' } },
        want: 'deny',
      },
      {
        name: 'PUT from namespaces2 (httpbin-7)',
        req: { method: 'PUT', peerPrincipal: 'cluster.local/ns/namespaces2/sa/x' },
        want: 'allow',
      },
      {
        name: 'PUT from 5.6.7.9 (httpbin-8)',
        req: { method: 'PUT', sourceIp: parseIp('5.6.7.9') },
        want: 'allow',
      },
      {
        name: 'PUT with X-abc: abc2 (httpbin-9)',
        req: { method: 'PUT', headers: { 'x-abc': 'abc2' } },
        want: 'allow',
      },
      {
        name: 'PUT matching none',
        req: { method: 'PUT', path: '/x', headers: { 'x-abc': 'abc3' } },
        want: 'deny',
      },
    ],
  ],
  [
    'simple-policy-td-aliases-in.yaml',
    { trustDomain: 'td1', trustDomainAliases: ['cluster.local'] },
    [
      {
        name: 'rule[0] from the local trust domain',
        req: { method: 'rule[0]-to[0]-method[0]', peerPrincipal: 'td1/ns/rule[0]/sa/from[0]-principal[0]' },
        want: 'allow',
      },
      {
        name: 'rule[0] from the alias',
        req: {
          method: 'rule[0]-to[0]-method[0]',
          peerPrincipal: 'cluster.local/ns/rule[0]/sa/from[0]-principal[0]',
        },
        want: 'allow',
      },
      {
        name: 'rule[0] from a foreign trust domain',
        req: { method: 'rule[0]-to[0]-method[0]', peerPrincipal: 'other/ns/rule[0]/sa/from[0]-principal[0]' },
        want: 'deny',
      },
      {
        name: 'rule[1] principal with rule[0] method',
        req: { method: 'rule[0]-to[0]-method[0]', peerPrincipal: 'td1/ns/rule[1]/sa/from[0]-principal[0]' },
        want: 'deny',
      },
      {
        name: 'rule[1]',
        req: {
          method: 'rule[1]-to[0]-method[0]',
          peerPrincipal: 'cluster.local/ns/rule[1]/sa/from[0]-principal[0]',
        },
        want: 'allow',
      },
    ],
  ],
  [
    'simple-policy-multiple-td-aliases-in.yaml',
    { trustDomain: 'td1', trustDomainAliases: ['cluster.local', 'some-td'] },
    [
      { name: 'td1', req: { peerPrincipal: 'td1/ns/rule[0]/sa/from[0]-principal[0]' }, want: 'allow' },
      {
        name: 'alias some-td',
        req: { peerPrincipal: 'some-td/ns/rule[0]/sa/from[0]-principal[0]' },
        want: 'allow',
      },
      { name: 'foreign td', req: { peerPrincipal: 'x-td/ns/rule[0]/sa/from[0]-principal[0]' }, want: 'deny' },
    ],
  ],
  [
    'simple-policy-principal-with-wildcard-in.yaml',
    {},
    [
      { name: 'any verified peer', req: { peerPrincipal: 'anything/ns/x/sa/y' }, want: 'allow' },
      { name: 'no peer', req: {}, want: 'deny' },
    ],
  ],
  [
    'td-aliases-source-principal-in.yaml',
    { trustDomain: 'td1', trustDomainAliases: ['some-trustdomain', 'old-td'] },
    [
      { name: 'a peer in istio-system', req: { peerPrincipal: 'td1/ns/istio-system/sa/x' }, want: 'allow' },
      { name: 'a peer elsewhere', req: { peerPrincipal: 'td1/ns/foo/sa/all-td' }, want: 'deny' },
      { name: 'no peer', req: {}, want: 'deny' },
    ],
  ],
  [
    'trust-domains-in.yaml',
    {},
    [
      { name: 'cluster.local', req: { peerPrincipal: 'cluster.local/ns/a/sa/b' }, want: 'allow' },
      { name: 'another.local', req: { peerPrincipal: 'another.local/ns/a/sa/b' }, want: 'allow' },
      { name: 'bad-td (notTrustDomains bad*)', req: { peerPrincipal: 'bad-td/ns/a/sa/b' }, want: 'deny' },
      { name: 'untrusted', req: { peerPrincipal: 'untrusted/ns/a/sa/b' }, want: 'deny' },
      { name: 'any other td', req: { peerPrincipal: 'good.td/ns/a/sa/b' }, want: 'allow' },
      // notTrustDomains holds without a certificate (the notId of a false match).
      { name: 'no peer', req: {}, want: 'allow' },
    ],
  ],
  [
    'single-policy-in.yaml',
    {},
    [
      {
        // principals and namespaces cannot both hold for one peer: the rule never matches.
        name: 'the closest request',
        req: {
          method: 'rule[0]-to[0]-method[1]',
          path: 'rule[0]-to[0]-path[1]',
          host: 'rule[0]-to[0]-host[1]',
          port: 9001,
          peerPrincipal: 'rule[0]-from[0]-principal[1]',
          sourceIp: parseIp('10.0.0.1'),
          remoteIp: parseIp('172.16.10.10'),
          headers: { 'x-header': 'header' },
          claims: { iss: 'rule[0]-from[0]-requestPrincipal[1]', sub: '' },
          destinationIp: parseIp('10.10.10.10'),
        },
        want: 'deny',
      },
    ],
  ],
];

describe('AuthorizationPolicy over Istio builder testdata', () => {
  for (const [file, meshConfig, cases] of tables) {
    describe(file, () => {
      const plan = planOf(sample(`authz/http/${file}`), { meshConfig });
      const authz = compileInbound(plan, createManualClock(), seededRandom(1)).authz;
      it.each(cases)('$name → $want', (c) => {
        const r = evaluateRbac(authz, input(c.req));
        expect(r.allow ? 'allow' : 'deny').toBe(c.want);
        if (c.shadow !== undefined && r.allow) expect(r.shadow).toEqual(c.shadow);
      });
    });
  }
});
