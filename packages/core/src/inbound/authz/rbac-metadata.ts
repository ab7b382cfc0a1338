import type { DynamicMetadata } from '../dynamic-metadata.js';

/** The RBAC filter's namespace (envoy rbac_filter.cc). */
export const RBAC_METADATA = 'envoy.filters.http.rbac';
/** Shared metadata: the LOG action's `access_log_hint` (envoy well_known_dynamic_metadata). */
export const COMMON_METADATA = 'envoy.common';

/**
 * The shadow rules' stat and metadata prefix istiod gives each RBAC filter
 * (pilot/pkg/security/authz/builder builder.go shadowRuleStatPrefix).
 */
export const SHADOW_PREFIX = {
  DENY: 'istio_dry_run_deny_',
  ALLOW: 'istio_dry_run_allow_',
} as const;

/** Collects the fields the filters a request passes write, in chain order. */
export class MetadataWriter {
  #rbac: Record<string, string> | null = null;
  #hint: boolean | null = null;

  /**
   * A filter's shadow engine ran (rbac_filter.cc decodeHeaders): its engine result, and the
   * matched policy's id when there was one.
   */
  shadow(prefix: string, allowed: boolean, policyId: string | null): void {
    const f = (this.#rbac ??= {});
    f[`${prefix}shadow_engine_result`] = allowed ? 'allowed' : 'denied';
    if (policyId !== null) f[`${prefix}shadow_effective_policy_id`] = policyId;
  }

  /** The enforced LOG engine ran: whether a policy matched (rbac engine_impl.cc handleAction). */
  accessLogHint(matched: boolean): void {
    this.#hint = matched;
  }

  /** Frozen, so a memoized decision can hand it to every request; null when nothing was written. */
  done(): DynamicMetadata | null {
    if (this.#rbac === null && this.#hint === null) return null;
    const out: Record<string, Readonly<Record<string, unknown>>> = {};
    if (this.#hint !== null) out[COMMON_METADATA] = Object.freeze({ access_log_hint: this.#hint });
    if (this.#rbac !== null) out[RBAC_METADATA] = Object.freeze(this.#rbac);
    return Object.freeze(out);
  }
}
