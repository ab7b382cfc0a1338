/**
 * The dynamic metadata namespaces meshlet fills on an inbound request, for access logs
 * (`%DYNAMIC_METADATA(...)%`, `%METADATA(DYNAMIC:...)%`) and CEL
 * (`metadata.filter_metadata[...]`):
 *
 * - `envoy.filters.http.jwt_authn`: the verified token's payload (istiod configures
 *   `payload_in_metadata: payload`, pilot/pkg/security/authn/policy_applier.go);
 * - `envoy.filters.http.rbac`: the dry-run results of the RBAC filters and the one in
 *   front of each ext_authz (inbound/authz/rbac-metadata.ts);
 * - `envoy.common`: the AUDIT filter's `access_log_hint`.
 */
export const FILLED_METADATA: ReadonlySet<string> = new Set([
  'envoy.filters.http.jwt_authn',
  'envoy.filters.http.rbac',
  'envoy.common',
]);
