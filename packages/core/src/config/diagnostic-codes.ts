/**
 * Diagnostic codes meshlet uses where Istio has none. Istio's own analyzer codes
 * (IST0101, IST0106, IST0002, ...) are used wherever one fits.
 */
export const DIAGNOSTIC_CODES = {
  /** Istio: schema validation error (the webhook would reject the resource). */
  schema: 'IST0106',
  /** Istio: a deprecated field or resource. */
  deprecated: 'IST0002',
  /** A file or directory could not be read, or a symlink loops. */
  source: 'MESHLET0001',
  /** The text is not valid YAML (istioctl exits 65 on these). */
  syntax: 'MESHLET0002',
  /** A Kubernetes kind meshlet does not apply (Deployment, Pod, ...): skipped; a core Service is applied. */
  skippedKind: 'MESHLET0003',
  /** An Istio kind or field meshlet validates but does not act on. */
  unsupported: 'MESHLET0004',
  /** The same kind/namespace/name appears twice; the later one replaces the earlier. */
  duplicate: 'MESHLET0005',
  /** A MeshConfig field meshlet reads none of. */
  meshConfigUnused: 'MESHLET0006',
  /** Valid config whose effect, Istio's too, is likely not what its author meant (it says how to fix it). */
  surprising: 'MESHLET0007',
} as const;
