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
import {
  createGlobalRateLimiter,
  type GlobalRateLimitDeps,
  type GlobalRateLimiter,
} from './ratelimit/global-rate-limit.js';
import { serviceClusterApp } from '../telemetry/tracing/proxy-identity.js';

/** A CUSTOM policy with its provider resolved, or the reason it fails closed. */
export interface CustomPolicy {
  readonly policy: CompiledPolicy;
  readonly provider: ExtAuthzProvider | { readonly problem: string };
  /**
   * Every CUSTOM policy of the same provider (one array shared by them), the rules of the
   * RBAC filter istiod puts in front of that provider's ext_authz; set on the provider's
   * first policy, null on the others.
   */
  readonly group: readonly CompiledPolicy[] | null;
}

/** Policies with their provider, each provider's group noted on its first policy. */
function grouped(
  providers: readonly string[],
  policies: readonly CompiledPolicy[],
  providerOf: (name: string) => CustomPolicy['provider'],
): CustomPolicy[] {
  return providers.flatMap((name) => {
    const provider = providerOf(name);
    const group = policies.filter((p) => (p.provider ?? '') === name);
    return group.map((policy, i) => ({ policy, provider, group: i === 0 ? group : null }));
  });
}

/** Everything the engine prepares once per plan. */
export interface CompiledInbound {
  readonly authz: CompiledAuthorization;
  /** The DENY, ALLOW and AUDIT decision (`evaluateRbac` over `authz`), reused for repeated requests. */
  readonly rbac: (input: AuthzInput) => RbacOutcome;
  readonly custom: readonly CustomPolicy[];
  readonly rateLimiter: LocalRateLimiter;
  /** Whether any local rate limit filter runs: without one no stage asks the limiter. */
  readonly rateLimited: boolean;
  /** The global rate limit filters; null when the plan has none. */
  readonly globalLimiter: GlobalRateLimiter | null;
  /** This proxy's service cluster (`source_cluster`; pkg/bootstrap/config.go serviceClusterOrDefault). */
  readonly serviceCluster: string;
  /** The local workload's SPIFFE URI: the destination principal a gRPC ext_authz check carries. */
  readonly localPrincipal: string;
}

/**
 * Prepares a plan for `decide`: authorization matchers, CUSTOM providers and the
 * rate limit buckets.
 */
export function compileInbound(
  plan: MeshPlan,
  clock: Clock,
  random: Random,
  global: GlobalRateLimitDeps | null = null,
): CompiledInbound {
  const authz = compileAuthorization(plan.inbound.authorization, {
    trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases],
  });
  const providers = [...new Set(authz.custom.map((p) => p.provider ?? ''))].sort();
  const custom =
    providers.length > 1 && !plan.inbound.multipleCustomAuthzProviders
      ? multipleProviders(authz.custom, providers)
      : byProvider(plan, authz.custom, providers);
  const policies = plan.inbound.authorization;
  return {
    authz,
    rbac: memoizeRbac(authz, rbacFootprint([...policies.deny, ...policies.allow, ...policies.audit])),
    custom,
    rateLimiter: createLocalRateLimiter(
      plan.inbound.rateLimits,
      clock,
      random,
      plan.inbound.rateLimitPolicies ?? [],
    ),
    rateLimited: plan.inbound.rateLimits.some((p) => p.position !== null),
    globalLimiter:
      global === null || (plan.inbound.globalRateLimits?.length ?? 0) === 0
        ? null
        : createGlobalRateLimiter(plan.inbound, global),
    serviceCluster: `${serviceClusterApp(plan.workload)}.${plan.workload.namespace}`,
    localPrincipal: `spiffe://${plan.meshConfig.trustDomain}/ns/${plan.workload.namespace}/sa/${plan.workload.serviceAccount}`,
  };
}

/**
 * CUSTOM policies grouped by provider, in provider-name order, each provider resolved on its
 * own: one istiod cannot build ext_authz for fails its own policies closed ("failed to
 * process CUSTOM action for provider %s, will generate deny configs", authz/builder
 * builder.go buildHTTP). Several providers get here only with
 * PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS.
 */
function byProvider(
  plan: MeshPlan,
  policies: readonly CompiledPolicy[],
  providers: readonly string[],
): CustomPolicy[] {
  return grouped(providers, policies, (name) => {
    const resolved = resolveExtAuthzProvider(plan.meshConfig, name === '' ? null : name);
    return typeof resolved === 'string' ? { problem: resolved } : resolved;
  });
}

/**
 * CUSTOM policies naming more than one provider: istiod logs an error and turns every
 * CUSTOM policy into a deny, one RBAC filter per provider in name order, "since we
 * can't safely pick one provider" (authz/builder builder.go, without
 * PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS, default false;
 * testdata/http/custom-bad-multiple-providers-out1.yaml, -out2.yaml).
 */
function multipleProviders(
  policies: readonly CompiledPolicy[],
  providers: readonly string[],
): CustomPolicy[] {
  const problem = `multiple CUSTOM authorization providers per workload requires PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS, found ${providers.length} providers: ${providers.join(', ')}`;
  return grouped(providers, policies, () => ({ problem }));
}
