import type { AuthorizationPlan, AuthorizationPolicyPlan } from '../../compile/inbound-types.js';
import type { AuthzInput } from './input.js';
import { compileGatedRule, type GatedRule, type RuleContext } from './compile-rule.js';
import { AnyOfStrings } from './string-set.js';
import type { Match } from './source-match.js';
import { tcpRule } from './tcp-rules.js';

/** One AuthorizationPolicy with its rules compiled to closures. */
export interface CompiledPolicy {
  /** `ns/name` */
  readonly name: string;
  readonly action: AuthorizationPolicyPlan['action'];
  readonly dryRun: boolean;
  readonly provider: string | null;
  /** Index of the first matching rule, or -1 (always -1 when `rules` is absent). */
  readonly match: (input: AuthzInput) => number;
  /**
   * The matching rule whose id (`envoyName`) sorts first, or -1: the one Envoy reports,
   * since an RBAC engine keeps its policies in a `std::map` and stops at the first match
   * (envoy filters/common/rbac engine_impl.cc checkPolicyMatch). `rule[10]` comes before
   * `rule[2]`. For reporting only; `match` decides.
   */
  readonly leastMatch: (input: AuthzInput) => number;
  /**
   * The name of the policy's rule `k` in the RBAC config istiod builds,
   * `ns[<ns>]-policy[<name>]-rule[<k>]` (authz/builder/builder.go policyName), which
   * Envoy puts in `rbac_access_denied_matched_policy[...]`.
   */
  readonly envoyName: (rule: number) => string;
}

export interface CompiledAuthorization {
  readonly custom: readonly CompiledPolicy[];
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
  readonly audit: readonly CompiledPolicy[];
  /**
   * Which RBAC filters have enforced rules (a policy not in dry-run): istiod leaves a
   * filter's `rules` out when all its policies are dry-run (builder.go build).
   */
  readonly enforced: { readonly audit: boolean; readonly deny: boolean; readonly allow: boolean };
}

export interface AuthorizationContext {
  readonly trustDomains: readonly string[];
  /**
   * Compile for a TCP filter chain's network RBAC filter: HTTP-only fields drop an ALLOW
   * rule, and are dropped from DENY, AUDIT and CUSTOM rules (tcp-rules.ts).
   */
  readonly tcp?: boolean;
}

/** An ALLOW rule a TCP chain leaves out: it keeps its index (`rule[k]` names) and matches nothing. */
const LEFT_OUT: GatedRule = Object.freeze({ match: () => false, paths: null });

function compilePolicy(p: AuthorizationPolicyPlan, ctx: AuthorizationContext): CompiledPolicy {
  const ruleCtx: RuleContext = {
    policyNamespace: p.policy.namespace,
    trustDomains: ctx.trustDomains,
    strict: p.action === 'ALLOW',
  };
  // `rules` absent: an ALLOW that matches nothing (`spec: {}` denies all in scope).
  const gated = (p.rules ?? []).map((r) => {
    const rule = ctx.tcp === true ? tcpRule(r, p.action) : r;
    return rule === null ? LEFT_OUT : compileGatedRule(rule, ruleCtx);
  });
  const rules: readonly Match[] = gated.map((r) => r.match);
  // When every rule requires a path from its `paths`, a request on none of them cannot
  // match the policy: one test rules it out before any rule runs.
  const gate =
    gated.length > 0 && gated.every((r) => r.paths !== null)
      ? new AnyOfStrings(gated.flatMap((r) => r.paths!))
      : null;
  const match = (input: AuthzInput): number => {
    if (gate !== null && !gate.matches(input.path)) return -1;
    for (let k = 0; k < rules.length; k++) if ((rules[k] as Match)(input)) return k;
    return -1;
  };
  const leastMatch = (input: AuthzInput): number => {
    if (gate !== null && !gate.matches(input.path)) return -1;
    let best = -1;
    for (let k = 0; k < rules.length; k++)
      if ((rules[k] as Match)(input) && (best < 0 || String(k) < String(best))) best = k;
    return best;
  };
  const prefix = `ns[${p.policy.namespace}]-policy[${p.policy.name}]-rule[`;
  return Object.freeze({
    name: `${p.policy.namespace}/${p.policy.name}`,
    action: p.action,
    dryRun: p.dryRun,
    provider: p.provider,
    match,
    leastMatch,
    envoyName: (rule: number) => `${prefix}${rule}]`,
  });
}

/**
 * Compiles every AuthorizationPolicy of a plan once: matchers are closures, RE2
 * regexes compiled, CIDRs parsed and trust-domain aliases expanded here, never per
 * request.
 */
export function compileAuthorization(
  plan: AuthorizationPlan,
  ctx: AuthorizationContext,
): CompiledAuthorization {
  const each = (list: readonly AuthorizationPolicyPlan[]) =>
    Object.freeze(list.map((p) => compilePolicy(p, ctx)));
  const enforced = (list: readonly AuthorizationPolicyPlan[]) => list.some((p) => !p.dryRun);
  return Object.freeze({
    custom: each(plan.custom),
    deny: each(plan.deny),
    allow: each(plan.allow),
    audit: each(plan.audit),
    enforced: Object.freeze({
      audit: enforced(plan.audit),
      deny: enforced(plan.deny),
      allow: enforced(plan.allow),
    }),
  });
}
