import type { WorkloadIdentity } from '../compile/workload.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import type { PeerMetadata } from './metadata-exchange/peer-metadata.js';

/**
 * One side of a request as Istio's stats filter labels it: the `source_*` or
 * `destination_*` half of `istio_requests_total` (istio/proxy
 * `source/extensions/filters/http/istio_stats/istio_stats.cc`). Missing values are
 * already `unknown` (and `latest` for the canonical revision), so a label set can be
 * built from it without further checks. Frozen; build once per peer and reuse.
 */
export interface PeerLabels {
  readonly workload: string;
  readonly namespace: string;
  /** `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`, or `unknown`. */
  readonly principal: string;
  readonly app: string;
  readonly version: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  readonly cluster: string;
}

export const UNKNOWN = 'unknown';
/** Istio's value for a workload without a canonical revision label. */
export const LATEST = 'latest';

/** A peer about which nothing is known (no mTLS, no metadata exchange). */
export const UNKNOWN_PEER: PeerLabels = Object.freeze({
  workload: UNKNOWN,
  namespace: UNKNOWN,
  principal: UNKNOWN,
  app: UNKNOWN,
  version: UNKNOWN,
  canonicalService: UNKNOWN,
  canonicalRevision: LATEST,
  cluster: UNKNOWN,
});

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * `service.istio.io/canonical-name`, else `app.kubernetes.io/name`, else `app`, else
 * the workload name (istio `pkg/kube/labels/labels.go` CanonicalService).
 */
export function canonicalService(labels: Readonly<Record<string, string>>, workloadName: string): string {
  const fromLabels = [
    labels['service.istio.io/canonical-name'],
    labels['app.kubernetes.io/name'],
    labels['app'],
  ].find(nonEmpty);
  return fromLabels ?? (workloadName === '' ? UNKNOWN : workloadName);
}

/**
 * `service.istio.io/canonical-revision`, else `app.kubernetes.io/version`, else
 * `version`, else `latest` (istio `pkg/kube/labels/labels.go` CanonicalRevision).
 */
export function canonicalRevision(labels: Readonly<Record<string, string>>): string {
  return (
    [
      labels['service.istio.io/canonical-revision'],
      labels['app.kubernetes.io/version'],
      labels['version'],
    ].find(nonEmpty) ?? LATEST
  );
}

/** The SPIFFE URI Istio puts in `*_principal`: `spiffe://<td>/ns/<ns>/sa/<sa>`. */
export function spiffePrincipal(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Options shared by the peer label builders. */
export interface PeerLabelOptions {
  /** The mesh trust domain (meshConfig `trustDomain`). */
  readonly trustDomain: string;
  /** Istio's cluster ID (`ISTIO_META_CLUSTER_ID`); Istio's default is `Kubernetes`. */
  readonly cluster?: string;
  /**
   * Whether the workload has a certificate, so its principal is known. Istio reports
   * `unknown` for the principal of a side without a SAN (plaintext).
   */
  readonly hasPrincipal?: boolean;
}

/**
 * Labels for a workload whose identity is fully known: the local workload (the proxy's
 * node metadata), or the peer learnt from metadata exchange / endpoint metadata.
 */
export function peerFromWorkload(workload: WorkloadIdentity, options: PeerLabelOptions): PeerLabels {
  const labels = workload.labels;
  return Object.freeze({
    workload: workload.name === '' ? UNKNOWN : workload.name,
    namespace: workload.namespace === '' ? UNKNOWN : workload.namespace,
    principal:
      options.hasPrincipal === false
        ? UNKNOWN
        : spiffePrincipal(options.trustDomain, workload.namespace, workload.serviceAccount),
    app: labels['app'] ?? UNKNOWN,
    version: labels['version'] ?? UNKNOWN,
    canonicalService: canonicalService(labels, workload.name),
    canonicalRevision: canonicalRevision(labels),
    cluster: options.cluster ?? 'Kubernetes',
  });
}

/**
 * Labels for a peer known only by its mTLS certificate: the principal and the
 * namespace taken from the SAN (as Istio does when no peer metadata arrived); the
 * rest is `unknown`.
 */
export function peerFromIdentity(peer: PeerIdentity | null): PeerLabels {
  if (peer === null) return UNKNOWN_PEER;
  // Interned by principal: the same caller gets the same object, so metric label sets
  // are cached per pair even though each request carries a fresh PeerIdentity.
  const hit = byPrincipal.get(peer.principal);
  if (hit !== undefined) return hit;
  const made: PeerLabels = Object.freeze({
    ...UNKNOWN_PEER,
    namespace: peer.namespace === '' ? UNKNOWN : peer.namespace,
    principal: `spiffe://${peer.principal}`,
  });
  if (byPrincipal.size >= MAX_INTERNED) byPrincipal.clear();
  byPrincipal.set(peer.principal, made);
  return made;
}

const MAX_INTERNED = 4096;
const byPrincipal = new Map<string, PeerLabels>();

/**
 * Labels for an upstream endpoint known only from the registry (Istio's client-side
 * fallback when no peer metadata came back: the endpoint's metadata): app, version and
 * canonical labels from the endpoint labels, the service's namespace, the principal
 * from the endpoint's service account. The workload name is not in meshlet's
 * endpoints, so it reads `unknown` unless the labels carry
 * `service.istio.io/workload-name`.
 */
export function peerFromEndpoint(
  endpoint: {
    readonly labels: Readonly<Record<string, string>>;
    readonly serviceAccount: string | null;
  },
  namespace: string,
  options: PeerLabelOptions,
  workloadName?: string,
): PeerLabels {
  const labels = endpoint.labels;
  const workload = workloadName ?? labels['service.istio.io/workload-name'] ?? '';
  const ns = namespace === '' ? UNKNOWN : namespace;
  return Object.freeze({
    workload: workload === '' ? UNKNOWN : workload,
    namespace: ns,
    principal:
      endpoint.serviceAccount === null || ns === UNKNOWN
        ? UNKNOWN
        : spiffePrincipal(options.trustDomain, ns, endpoint.serviceAccount),
    app: labels['app'] ?? UNKNOWN,
    version: labels['version'] ?? UNKNOWN,
    canonicalService: canonicalService(labels, workload),
    canonicalRevision: canonicalRevision(labels),
    cluster: options.cluster ?? 'Kubernetes',
  });
}

const withMetadata = new WeakMap<PeerLabels, WeakMap<PeerMetadata, PeerLabels>>();

/**
 * A peer's labels once its metadata-exchange headers arrived (istio_stats.cc, the
 * `source_*` half on a server and the `destination_*` half on a client): workload, app,
 * version, canonical service and revision, cluster from the metadata (`unknown`, and
 * `latest` for the revision, where it has none). The principal stays the certificate's,
 * and the namespace the certificate's when there is one, as Istio prefers the SAN's.
 * Cached per pair, so steady traffic reuses one label object.
 */
export function peerWithMetadata(base: PeerLabels, m: PeerMetadata): PeerLabels {
  let byMeta = withMetadata.get(base);
  if (byMeta === undefined) {
    byMeta = new WeakMap();
    withMetadata.set(base, byMeta);
  }
  const hit = byMeta.get(m);
  if (hit !== undefined) return hit;
  const or = (v: string, fallback: string): string => (v === '' ? fallback : v);
  const made: PeerLabels = Object.freeze({
    workload: or(m.workload, UNKNOWN),
    namespace: base.namespace !== UNKNOWN ? base.namespace : or(m.namespace, UNKNOWN),
    principal: base.principal,
    app: or(m.app, UNKNOWN),
    version: or(m.version, UNKNOWN),
    canonicalService: or(m.canonicalService, UNKNOWN),
    canonicalRevision: or(m.canonicalRevision, LATEST),
    cluster: or(m.cluster, UNKNOWN),
  });
  byMeta.set(m, made);
  return made;
}
