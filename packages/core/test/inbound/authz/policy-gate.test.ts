import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicyPlan } from '../../../src/compile/inbound-types.js';
import type { Rule } from '../../../src/config/schema/authorization-policy.js';
import { compileAuthorization } from '../../../src/inbound/authz/compile-policies.js';
import { compileRule, type RuleContext } from '../../../src/inbound/authz/compile-rule.js';
import type { AuthzInput } from '../../../src/inbound/authz/input.js';
import { seededRandom } from '../../../src/runtime/random.js';

// A policy whose every rule requires `paths` is ruled out by one path test before its
// rules run. That gate must never change an answer: for random policies and requests,
// the policy's match equals the first rule that matches when each rule runs alone.

const PATHS = ['/admin', '/admin/*', '/api/{*}/items', '*/info', '/a*', '*'];
const REQUEST_PATHS = ['/admin', '/admin/x', '/api/v1/items', '/api/v1/v2/items', '/x/info', '/a', '/b', '/'];
const METHODS = ['GET', 'POST'];

function pick<T>(items: readonly T[], r: () => number): T {
  return items[Math.floor(r() * items.length)] as T;
}

function some<T>(items: readonly T[], r: () => number): T[] {
  return items.filter(() => r() < 0.35);
}

/** A random operation: paths or not, notPaths or not, methods or not. */
function operation(r: () => number): NonNullable<Rule['to']>[number] {
  const op: Record<string, string[]> = {};
  if (r() < 0.7) op['paths'] = [pick(PATHS, r), ...some(PATHS, r)];
  if (r() < 0.2) op['notPaths'] = [pick(PATHS, r)];
  if (r() < 0.4) op['methods'] = [pick(METHODS, r)];
  return r() < 0.1 ? {} : { operation: op };
}

function rule(r: () => number): Rule {
  const out: Rule = {};
  if (r() < 0.85) out.to = Array.from({ length: 1 + Math.floor(r() * 2) }, () => operation(r));
  if (r() < 0.2) out.when = [{ key: 'request.headers[x-a]', values: ['1'] }];
  return out;
}

function input(path: string, method: string, xa: boolean): AuthzInput {
  return {
    method,
    path,
    host: 'httpbin.foo',
    port: 8000,
    headers: xa ? { 'x-a': '1' } : {},
    overlay: null,
    peer: null,
    peerUri: null,
    claims: null,
    sourceIp: null,
    remoteIp: null,
    destinationIp: null,
    sni: null,
  };
}

describe('a policy gated by its rules’ paths', () => {
  it('answers as its rules run one by one, for 2,000 random policies and every request', () => {
    const random = seededRandom(7);
    const r = (): number => random.next();
    let gatedSkips = 0;
    for (let n = 0; n < 2000; n++) {
      const action = pick(['ALLOW', 'DENY'] as const, r);
      const rules = Array.from({ length: 1 + Math.floor(r() * 3) }, () => rule(r));
      const plan: AuthorizationPolicyPlan = {
        policy: { namespace: 'foo', name: `p${n}` },
        action,
        dryRun: false,
        provider: null,
        rules,
      };
      const ctx: RuleContext = {
        policyNamespace: 'foo',
        trustDomains: ['cluster.local'],
        strict: action === 'ALLOW',
      };
      const compiled = compileAuthorization(
        {
          custom: [],
          deny: action === 'DENY' ? [plan] : [],
          allow: action === 'ALLOW' ? [plan] : [],
          audit: [],
        },
        { trustDomains: ctx.trustDomains },
      );
      const policy = (action === 'DENY' ? compiled.deny : compiled.allow)[0]!;
      const alone = rules.map((one) => compileRule(one, ctx));
      for (const path of REQUEST_PATHS)
        for (const method of METHODS)
          for (const xa of [false, true]) {
            const i = input(path, method, xa);
            const expected = alone.findIndex((m) => m(i));
            expect(policy.match(i), `${JSON.stringify(rules)} on ${method} ${path}`).toBe(expected);
            if (expected < 0) gatedSkips++;
          }
    }
    // The random policies do exercise non-matching requests (where the gate acts).
    expect(gatedSkips).toBeGreaterThan(1000);
  });
});
