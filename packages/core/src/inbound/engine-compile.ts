import type { MeshPlan } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import {
  compileAuthorization,
  type CompiledAuthorization,
  type CompiledPolicy,
} from './authz/compile-policies.js';
import { memoizeRbac } from './authz/decision-memo.js';
import type { RbacOutcome } from './authz/evaluate.js';
import { resolveExtAuthzProvider, type ExtAuthzProvider } from './authz/ext-authz-provider.js';
import { rbacFootprint } from './authz/footprint.js';
import type { AuthzInput } from './authz/input.js';
import { createLocalRateLimiter, type LocalRateLimiter } from './ratelimit/local-rate-limit.js';

/** A CUSTOM policy with its provider resolved, or the reason it fails closed. */
export interface CustomPolicy {
  readonly policy: CompiledPolicy;
  readonly provider: ExtAuthzProvider | { readonly problem: string };
}

/** Everything the engine prepares once per plan. */
export interface CompiledInbound {
  readonly authz: CompiledAuthorization;
  /** The DENY, ALLOW and AUDIT decision (`evaluateRbac` over `authz`), reused for repeated requests. */
  readonly rbac: (input: AuthzInput) => RbacOutcome;
  readonly custom: readonly CustomPolicy[];
  readonly rateLimiter: LocalRateLimiter;
  /** The local workload's SPIFFE URI: the destination principal a gRPC ext_authz check carries. */
  readonly localPrincipal: string;
}

/**
 * Prepares a plan for `decide`: authorization matchers, CUSTOM providers and the
 * rate limit buckets. Istio allows one ext_authz provider per workload: the
 * oldest CUSTOM policy's provider is used and a CUSTOM policy naming another one
 * fails closed, like a missing or misconfigured provider (istio authz/builder,
 * `custom-bad-multiple-providers`).
 */
export function compileInbound(plan: MeshPlan, clock: Clock, random: Random): CompiledInbound {
  const spaceDelimited = new Set<string>();
  for (const r of plan.inbound.jwtRules)
    for (const c of r.rule.spaceDelimitedClaims ?? []) spaceDelimited.add(c);
  const authz = compileAuthorization(plan.inbound.authorization, {
    trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases],
    spaceDelimitedClaims: spaceDelimited,
  });
  const chosen = authz.custom[0]?.provider ?? null;
  const resolved = chosen === null ? null : resolveExtAuthzProvider(plan.meshConfig, chosen);
  const custom = authz.custom.map((policy): CustomPolicy => {
    if (policy.provider !== chosen)
      return {
        policy,
        provider: {
          problem: `only one extension provider may be used per workload: ${JSON.stringify(chosen)} is in use, this policy names ${JSON.stringify(policy.provider)}`,
        },
      };
    return {
      policy,
      provider: typeof resolved === 'string' || resolved === null ? { problem: String(resolved) } : resolved,
    };
  });
  const policies = plan.inbound.authorization;
  return {
    authz,
    rbac: memoizeRbac(authz, rbacFootprint([...policies.deny, ...policies.allow, ...policies.audit])),
    custom,
    rateLimiter: createLocalRateLimiter(plan.inbound.rateLimits, clock, random),
    localPrincipal: `spiffe://${plan.meshConfig.trustDomain}/ns/${plan.workload.namespace}/sa/${plan.workload.serviceAccount}`,
  };
}
