import type { CompiledAuthorization, CompiledPolicy } from './compile-policies.js';
import type { AuthzInput } from './input.js';

/** A policy evaluated in dry-run or AUDIT mode, reported and never enforced. */
export interface ShadowResult {
  readonly policy: string;
  readonly action: string;
  readonly result: 'allow' | 'deny' | 'audit';
}

export type RbacOutcome =
  | { readonly allow: true; readonly shadow: readonly ShadowResult[] }
  | {
      readonly allow: false;
      readonly stage: 'deny' | 'allow';
      readonly policy: string | null;
      readonly detail: string;
      /** Envoy's `rbac_access_denied_matched_policy[<policy id>|none]`. */
      readonly responseCodeDetails: string;
      /**
       * What the RBAC filters before the refusing one, and the refusing filter's own shadow
       * rules, reported before the request stopped (see {@link evaluateRbac}).
       */
      readonly shadow: readonly ShadowResult[];
    };

/** Envoy's RBAC response detail (filters/common/rbac/utility.cc responseDetail). */
export function rbacDeniedDetails(policyId: string | null): string {
  return `rbac_access_denied_matched_policy[${policyId === null ? 'none' : policyId.replace(/\s/g, '_')}]`;
}

const NO_POLICY_MATCHED = rbacDeniedDetails(null);

const NO_SHADOW: readonly ShadowResult[] = Object.freeze([]);
const ALLOWED: RbacOutcome = Object.freeze({ allow: true, shadow: NO_SHADOW });

/**
 * The Envoy RBAC filters Istio builds, in chain order (istio authz/builder/builder.go
 * `build`: AUDIT, then DENY, then ALLOW, each its own filter; spec §3): AUDIT policies
 * only mark; any matching DENY policy denies; then with no ALLOW policy the request is
 * allowed, otherwise one must match. Policies annotated `istio.io/dry-run: "true"` are
 * their filter's shadow rules: a dry-run DENY reports `deny` when it matches; the dry-run
 * ALLOW policies together report `allow` when one matches and `deny` when none does.
 *
 * Every filter a request reaches reports, also when a later one refuses it, and Envoy
 * runs a filter's shadow rules before its enforced ones (rbac_filter.cc decodeHeaders):
 * a request an enforced DENY refuses carries the AUDIT marks and the dry-run DENY
 * results; one no ALLOW policy admits carries the dry-run ALLOW result too.
 */
export function evaluateRbac(authz: CompiledAuthorization, input: AuthzInput): RbacOutcome {
  // Indexed loops and a lazily made shadow list: this runs on every request, and V8 (11.x)
  // does not lower `for...of` over the compiled (frozen) policy arrays.
  let shadow: ShadowResult[] | null = null;

  // The AUDIT filter (action LOG) comes first and never refuses.
  const audit = authz.audit;
  for (let i = 0; i < audit.length; i++) {
    const p = audit[i] as CompiledPolicy;
    if (p.match(input) >= 0) (shadow ??= []).push({ policy: p.name, action: 'AUDIT', result: 'audit' });
  }

  // The DENY filter: its shadow rules (dry-run DENY policies), then its enforced rules.
  const deny = authz.deny;
  let enforcedDeny = false;
  for (let i = 0; i < deny.length; i++) {
    const p = deny[i] as CompiledPolicy;
    if (!p.dryRun) {
      enforcedDeny = true;
      continue;
    }
    if (p.match(input) >= 0) (shadow ??= []).push({ policy: p.name, action: 'DENY', result: 'deny' });
  }
  if (enforcedDeny) {
    for (let i = 0; i < deny.length; i++) {
      const p = deny[i] as CompiledPolicy;
      if (p.dryRun) continue;
      const k = p.match(input);
      if (k < 0) continue;
      return {
        allow: false,
        stage: 'deny',
        policy: p.name,
        detail: `DENY policy ${p.name} rule[${k}] matched`,
        responseCodeDetails: rbacDeniedDetails(p.envoyName(k)),
        shadow: shadow ?? NO_SHADOW,
      };
    }
  }

  // The ALLOW filter: its shadow rules (dry-run ALLOW policies), then its enforced rules.
  let enforced = 0;
  let dryRuns: CompiledPolicy[] | null = null;
  let allowed: CompiledPolicy | null = null;
  const allow = authz.allow;
  for (let i = 0; i < allow.length; i++) {
    const p = allow[i] as CompiledPolicy;
    if (p.dryRun) {
      (dryRuns ??= []).push(p);
      continue;
    }
    enforced++;
    if (allowed === null && p.match(input) >= 0) allowed = p;
  }
  if (dryRuns !== null) {
    const hit = dryRuns.find((p) => p.match(input) >= 0);
    (shadow ??= []).push(
      hit !== undefined
        ? { policy: hit.name, action: 'ALLOW', result: 'allow' }
        : { policy: dryRuns.map((p) => p.name).join(','), action: 'ALLOW', result: 'deny' },
    );
  }
  if (enforced > 0 && allowed === null) {
    return {
      allow: false,
      stage: 'allow',
      policy: null,
      detail: `no ALLOW policy matched (${enforced} in scope)`,
      responseCodeDetails: NO_POLICY_MATCHED,
      shadow: shadow ?? NO_SHADOW,
    };
  }
  return shadow === null ? ALLOWED : { allow: true, shadow };
}
