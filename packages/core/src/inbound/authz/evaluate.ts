import type { CompiledAuthorization, CompiledPolicy } from './compile-policies.js';
import type { AuthzInput } from './input.js';
import type { DynamicMetadata } from '../dynamic-metadata.js';
import { MetadataWriter, SHADOW_PREFIX } from './rbac-metadata.js';

/** A policy evaluated in dry-run or AUDIT mode, reported and never enforced. */
export interface ShadowResult {
  readonly policy: string;
  readonly action: string;
  readonly result: 'allow' | 'deny' | 'audit';
}

export type RbacOutcome =
  | {
      readonly allow: true;
      readonly shadow: readonly ShadowResult[];
      /** What the RBAC filters wrote to the request's dynamic metadata; null when nothing. */
      readonly metadata: DynamicMetadata | null;
    }
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
      /** The dynamic metadata those filters wrote; null when nothing. */
      readonly metadata: DynamicMetadata | null;
    };

/** Envoy's RBAC response detail (filters/common/rbac/utility.cc responseDetail). */
export function rbacDeniedDetails(policyId: string | null): string {
  return `rbac_access_denied_matched_policy[${policyId === null ? 'none' : policyId.replace(/\s/g, '_')}]`;
}

const NO_POLICY_MATCHED = rbacDeniedDetails(null);

const NO_SHADOW: readonly ShadowResult[] = Object.freeze([]);
const ALLOWED: RbacOutcome = Object.freeze({ allow: true, shadow: NO_SHADOW, metadata: null });

/** A filter's match as Envoy reports it: the policy, and the id of its rule. */
interface Hit {
  readonly policy: CompiledPolicy;
  readonly rule: number;
  readonly id: string;
}

/** `p`'s match as Envoy reports it (CompiledPolicy.leastMatch), or null. */
function hitOf(p: CompiledPolicy, input: AuthzInput): Hit | null {
  const k = p.leastMatch(input);
  return k < 0 ? null : { policy: p, rule: k, id: p.envoyName(k) };
}

/** The hit Envoy reports of two: the least id. */
const first = (a: Hit | null, b: Hit | null): Hit | null =>
  a === null ? b : b === null || a.id < b.id ? a : b;

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
 *
 * The same filters leave Envoy's dynamic metadata (rbac-metadata.ts): each with shadow
 * rules its engine result and matched policy id, the enforced AUDIT filter `access_log_hint`.
 * Where several policies match, the one named is the least id (CompiledPolicy.leastMatch).
 */
export function evaluateRbac(authz: CompiledAuthorization, input: AuthzInput): RbacOutcome {
  // Indexed loops and a lazily made shadow list: this runs on every request, and V8 (11.x)
  // does not lower `for...of` over the compiled (frozen) policy arrays.
  let shadow: ShadowResult[] | null = null;
  // Dynamic metadata: only filters with shadow rules, or the enforced AUDIT filter, write it.
  let meta: MetadataWriter | null = null;

  // The AUDIT filter (action LOG) comes first and never refuses; its engine sets
  // `access_log_hint`. (istiod's webhook refuses istio.io/dry-run on AUDIT, validation.go
  // checkDryRunAnnotation, and so does config load.)
  const audit = authz.audit;
  if (audit.length > 0) {
    let logged = false;
    for (let i = 0; i < audit.length; i++) {
      const p = audit[i] as CompiledPolicy;
      if (p.match(input) < 0) continue;
      logged = true;
      (shadow ??= []).push({ policy: p.name, action: 'AUDIT', result: 'audit' });
    }
    (meta ??= new MetadataWriter()).accessLogHint(logged);
  }

  // The DENY filter: its shadow rules (dry-run DENY policies), then its enforced rules.
  const deny = authz.deny;
  let enforcedDeny = false;
  let dryDeny = false;
  let dryDenyHit: Hit | null = null;
  for (let i = 0; i < deny.length; i++) {
    const p = deny[i] as CompiledPolicy;
    if (!p.dryRun) {
      enforcedDeny = true;
      continue;
    }
    dryDeny = true;
    const h = hitOf(p, input);
    if (h === null) continue;
    (shadow ??= []).push({ policy: p.name, action: 'DENY', result: 'deny' });
    dryDenyHit = first(dryDenyHit, h);
  }
  if (dryDeny)
    (meta ??= new MetadataWriter()).shadow(SHADOW_PREFIX.DENY, dryDenyHit === null, dryDenyHit?.id ?? null);
  if (enforcedDeny) {
    let hit: Hit | null = null;
    for (let i = 0; i < deny.length; i++) {
      const p = deny[i] as CompiledPolicy;
      if (p.dryRun) continue;
      // The first match decides; the rest are asked only to name the one Envoy reports.
      if (hit === null && p.match(input) < 0) continue;
      hit = first(hit, hitOf(p, input));
    }
    if (hit !== null)
      return {
        allow: false,
        stage: 'deny',
        policy: hit.policy.name,
        detail: `DENY policy ${hit.policy.name} rule[${hit.rule}] matched`,
        responseCodeDetails: rbacDeniedDetails(hit.id),
        shadow: shadow ?? NO_SHADOW,
        metadata: meta === null ? null : meta.done(),
      };
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
    let hit: Hit | null = null;
    for (const p of dryRuns) hit = first(hit, hitOf(p, input));
    (shadow ??= []).push(
      hit !== null
        ? { policy: hit.policy.name, action: 'ALLOW', result: 'allow' }
        : { policy: dryRuns.map((p) => p.name).join(','), action: 'ALLOW', result: 'deny' },
    );
    (meta ??= new MetadataWriter()).shadow(SHADOW_PREFIX.ALLOW, hit !== null, hit?.id ?? null);
  }
  const metadata = meta === null ? null : meta.done();
  if (enforced > 0 && allowed === null) {
    return {
      allow: false,
      stage: 'allow',
      policy: null,
      detail: `no ALLOW policy matched (${enforced} in scope)`,
      responseCodeDetails: NO_POLICY_MATCHED,
      shadow: shadow ?? NO_SHADOW,
      metadata,
    };
  }
  return shadow === null && metadata === null
    ? ALLOWED
    : { allow: true, shadow: shadow ?? NO_SHADOW, metadata };
}
