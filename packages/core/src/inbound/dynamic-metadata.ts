/**
 * The dynamic metadata Envoy's filters leave on a request, which access logs
 * (`%DYNAMIC_METADATA(...)%`), CEL (`metadata.filter_metadata`) and Istio's metadata span
 * tags read. Namespace (the filter's name) → field → value.
 */
export type DynamicMetadata = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/**
 * Envoy's jwt_authn filter, which istiod configures with `payload_in_metadata: payload` and
 * the space-delimited claims normalised (pilot/pkg/security/authn/policy_applier.go), so a
 * verified token's claims are `envoy.filters.http.jwt_authn: {payload: {...}}`.
 */
const JWT_AUTHN = 'envoy.filters.http.jwt_authn';

/** The dynamic metadata of a request whose token jwt_authn verified: its (normalised) claims. */
export function jwtMetadata(claims: Readonly<Record<string, unknown>>): DynamicMetadata {
  return { [JWT_AUTHN]: { payload: claims } };
}

/**
 * `b` written after `a`: a namespace's fields merge, later ones winning (Envoy's
 * StreamInfo setDynamicMetadata merges into the filter's struct).
 */
export function mergeMetadata(
  a: DynamicMetadata | null | undefined,
  b: DynamicMetadata | null | undefined,
): DynamicMetadata | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  const out: Record<string, Readonly<Record<string, unknown>>> = { ...a };
  for (const ns in b) out[ns] = Object.freeze({ ...a[ns], ...b[ns] });
  return Object.freeze(out);
}
