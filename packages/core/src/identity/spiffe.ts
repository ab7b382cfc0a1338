import type { MeshConfig } from '../config/mesh-config.js';
import type { PeerIdentity } from '../inbound/request-context.js';

const SCHEME = 'spiffe://';

/** The parts of a workload SPIFFE ID `spiffe://<td>/ns/<ns>/sa/<sa>`. */
export interface SpiffeParts {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/**
 * `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`, the URI SAN Istio puts in
 * workload certificates (security.md §1).
 */
export function formatSpiffeId(parts: SpiffeParts): string {
  return `${SCHEME}${parts.trustDomain}/ns/${parts.namespace}/sa/${parts.serviceAccount}`;
}

/**
 * Parse a SPIFFE ID into the identity AuthorizationPolicy reads: `principal` is the ID
 * without `spiffe://` (`source.principal`), `namespace` the `/ns/<x>/` segment
 * (`source.namespace`), `serviceAccount` the `/sa/<y>` segment (the bare name; Istio's
 * `source.serviceAccount` is `<namespace>/<serviceAccount>`). An ID in another shape
 * (`spiffe://td/some/path`) keeps its principal with empty namespace and service account,
 * as Envoy's RBAC still sees the URI. Returns null when `uri` is not a SPIFFE ID.
 */
export function parseSpiffeId(uri: string): PeerIdentity | null {
  if (!uri.startsWith(SCHEME)) return null;
  const principal = uri.slice(SCHEME.length);
  const slash = principal.indexOf('/');
  const trustDomain = slash < 0 ? principal : principal.slice(0, slash);
  if (trustDomain === '' || /[\s?#]/.test(principal)) return null;
  const segments = slash < 0 ? [] : principal.slice(slash + 1).split('/');
  const canonical =
    segments.length === 4 &&
    segments[0] === 'ns' &&
    segments[2] === 'sa' &&
    segments[1] !== '' &&
    segments[3] !== '';
  return Object.freeze({
    principal,
    trustDomain,
    namespace: canonical ? (segments[1] as string) : '',
    serviceAccount: canonical ? (segments[3] as string) : '',
  });
}

/**
 * The entries of one type (`URI`, `DNS`) of node's `PeerCertificate.subjectaltname`
 * (`DNS:a, URI:spiffe://...`). Node JSON-quotes a value that contains `,` or other
 * special characters.
 */
function sansOfType(subjectaltname: string | undefined, wanted: string): readonly string[] {
  if (subjectaltname === undefined || subjectaltname === '') return [];
  const out: string[] = [];
  let i = 0;
  const text = subjectaltname;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon).trim();
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      } catch {
        return out;
      }
      const comma = text.indexOf(', ', j + 1);
      next = comma < 0 ? text.length : comma + 2;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      value = text.slice(colon + 1, comma < 0 ? text.length : comma);
      next = comma < 0 ? text.length : comma + 2;
    }
    if (type === wanted) out.push(value);
    i = next;
  }
  return out;
}

/** The URIs of a certificate's subjectAltName (a SPIFFE ID among them). */
export function uriSans(subjectaltname: string | undefined): readonly string[] {
  return sansOfType(subjectaltname, 'URI');
}

/** The DNS names of a certificate's subjectAltName, parsed as `uriSans` parses URIs. */
export function dnsSans(subjectaltname: string | undefined): readonly string[] {
  return sansOfType(subjectaltname, 'DNS');
}

/**
 * meshConfig `trustDomain`, `trustDomainAliases` and every `caCertificates[].trustDomains`,
 * as written: the trust domains a peer's SPIFFE ID may carry (istio
 * pilot/pkg/networking/plugin/authn TrustDomainsForValidation), matched case-sensitively
 * as the `spiffe://<td>/` prefix matchers istiod builds from them are.
 */
export function acceptedTrustDomains(
  meshConfig: Pick<MeshConfig, 'trustDomain' | 'trustDomainAliases'> &
    Partial<Pick<MeshConfig, 'caCertificates'>>,
): ReadonlySet<string> {
  // Asked per connection and per mesh mTLS call; a plan's meshConfig is frozen.
  let set = trustDomainsOf.get(meshConfig);
  if (set === undefined) {
    set = new Set(
      [
        meshConfig.trustDomain,
        ...meshConfig.trustDomainAliases,
        ...(meshConfig.caCertificates ?? []).flatMap((c) => c.trustDomains),
      ].filter((td) => td !== ''),
    );
    trustDomainsOf.set(meshConfig, set);
  }
  return set;
}

const trustDomainsOf = new WeakMap<object, ReadonlySet<string>>();
const bundles = new WeakMap<object, { readonly root: string; readonly bundle: string }>();

/** The mesh root plus meshConfig `caCertificates[].pem`: the trust bundle for mesh mTLS. */
export function meshTrustBundle(
  rootPem: string,
  meshConfig: Partial<Pick<MeshConfig, 'caCertificates'>>,
): string {
  const extra = meshConfig.caCertificates ?? [];
  if (!extra.some((c) => c.pem !== null)) return rootPem;
  const cached = bundles.get(meshConfig);
  if (cached !== undefined && cached.root === rootPem) return cached.bundle;
  const pems = extra.flatMap((c) => (c.pem === null ? [] : [c.pem.trim()]));
  const bundle = `${[rootPem.trim(), ...pems].join('\n')}\n`;
  bundles.set(meshConfig, { root: rootPem, bundle });
  return bundle;
}

/**
 * The names of the certificates peers were verified by, when they are more than the peer's
 * own SPIFFE ID (see {@link peerCertificateNames}). Keyed by the identity object
 * `peerFromCertificate` made, which the mesh server keeps for the connection.
 */
const certificateNames = new WeakMap<PeerIdentity, readonly string[]>();

/**
 * The verified identity of a peer certificate: its first URI SAN with the prefix
 * `spiffe://<td>/` for a trust domain of `acceptedTrustDomains`, the prefix Istio's
 * validation context matches (istio networking/plugin/authn/util.go
 * TrustDomainsForValidation, pilot/pkg/security/model/authentication.go
 * ApplyToCommonTLSContext). Envoy accepts the certificate when any SAN matches, so an
 * earlier SPIFFE ID of another trust domain does not refuse it. Returns null when none
 * does. The caller must have verified the certificate chain.
 *
 * The peer is one identity, but AuthorizationPolicy sees every name of the certificate
 * ({@link peerCertificateNames}).
 */
export function peerFromCertificate(
  cert: { readonly subjectaltname?: string | undefined },
  trustDomains: ReadonlySet<string>,
): PeerIdentity | null {
  const uris = uriSans(cert.subjectaltname);
  for (const uri of uris) {
    if (!uri.startsWith(SCHEME)) continue;
    const peer = parseSpiffeId(uri);
    // `spiffe://td` alone does not have the prefix `spiffe://td/`.
    if (peer === null || !peer.principal.includes('/')) continue;
    if (!trustDomains.has(peer.trustDomain)) continue;
    const names = [...uris, ...dnsSans(cert.subjectaltname)];
    if (names.length > 1) certificateNames.set(peer, Object.freeze(names));
    return peer;
  }
  return null;
}

/**
 * The names of the certificate `peer` was verified by, in the order Envoy's RBAC
 * `authenticated` principal matcher tries them: every URI SAN, then every DNS SAN
 * (source/extensions/filters/common/rbac/matchers.cc AuthenticatedMatcher; the subject it
 * tries last is not kept). Istio's `principals`, `namespaces`, `serviceAccounts` and
 * `trustDomains` match when any of them does. Undefined when the certificate named only
 * the peer's SPIFFE ID, or the identity did not come from `peerFromCertificate`.
 */
export function peerCertificateNames(peer: PeerIdentity): readonly string[] | undefined {
  return certificateNames.get(peer);
}
