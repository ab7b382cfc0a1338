import type { CompiledAuthorization } from './compile-policies.js';
import type { RbacOutcome } from './evaluate.js';

/**
 * Where the inbound engine reports the RBAC filters a request passed, for Envoy's RBAC
 * stats (telemetry/metrics/envoy-rbac-stats.ts).
 */
export interface RbacStatsSink {
  /** The AUDIT, DENY and ALLOW filters of `authz` the request reached, and their outcome. */
  rbac(port: number, authz: CompiledAuthorization, outcome: RbacOutcome): void;
  /** The shadow filter in front of one CUSTOM provider's ext_authz: whether a policy matched. */
  custom(port: number, matched: boolean): void;
  /**
   * The RBAC deny filter istiod builds instead of ext_authz for a CUSTOM provider it cannot
   * use (builder.go getBadCustomDenyRules): whether its policies matched, refusing the request.
   */
  badCustom(port: number, denied: boolean): void;
}
