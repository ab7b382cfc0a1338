import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import type { Cluster, MeshPlan } from '../compile/plan-types.js';
import { namespaceMtlsMode } from '../compile/service-mtls.js';
import type { TlsPolicy } from '../compile/traffic-policy.js';
import { acceptedTrustDomains, meshTrustBundle, peerFromCertificate, uriSans } from '../identity/spiffe.js';
import { tlsDefaultsClientOptions } from '../identity/mesh-tls.js';
import type { CertSource } from '../identity/types.js';
import type { TransportTls } from '../outbound/transport.js';
import type { UpstreamHost } from '../outbound/upstream/types.js';
import { systemClock } from '../runtime/clock.js';
import { readsCredential } from '../compile/credential-reader.js';
import {
  ClientCredentials,
  type ClientCredentialSource,
  type CredentialHandle,
} from './client-credentials.js';

/** Istio's client ALPN for HTTP/1.1 over mTLS (pilot/pkg/xds/filters/filters.go mtlsHTTP11ALPN). */
const ISTIO_HTTP11_ALPN: readonly string[] = Object.freeze(['istio-http/1.1', 'istio', 'http/1.1']);

/** Istio's label on endpoints whose workload has a sidecar (auto mTLS sends mTLS only to those). */
const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

/**
 * Whether an endpoint runs in the mesh: its `security.istio.io/tlsMode` label when it has
 * one, else whether it names a service account (istio serviceentry/conversion.go
 * getTLSModeFromWorkloadEntry), so `tlsMode: disabled` wins over a service account.
 */
function isMeshEndpoint(host: UpstreamHost): boolean {
  const e = host.endpoint;
  const mode = e.labels[TLS_MODE_LABEL];
  return mode !== undefined ? mode === 'istio' : e.serviceAccount !== null;
}

/**
 * Whether auto mTLS may apply to a cluster with no DestinationRule `tls` (istio
 * cluster_tls.go buildUpstreamTLSSettings with push_context.go
 * BestEffortInferServiceMTLSMode): not with meshConfig `enableAutoMtls: false`, not to a
 * MESH_EXTERNAL service, not to a passthrough service (resolution NONE or a PASSTHROUGH
 * load balancer) with no endpoint or one labelled `tlsMode: disabled`, and not when the
 * service's namespace (else the mesh) PeerAuthentication is DISABLE. Whether a given
 * endpoint then gets it is `isMeshEndpoint` (Envoy's transport socket match).
 */
function autoMtlsApplies(plan: MeshPlan, cluster: Cluster): boolean {
  if (!plan.meshConfig.enableAutoMtls) return false;
  const service = plan.outbound.services[cluster.host];
  if (service === undefined) return true;
  if (service.location === 'MESH_EXTERNAL') return false;
  if (service.resolution === 'NONE' || cluster.policy.loadBalancer.simple === 'PASSTHROUGH') {
    if (cluster.endpoints.length === 0) return false;
    if (cluster.endpoints.some((e) => e.labels[TLS_MODE_LABEL] === 'disabled')) return false;
  }
  return namespaceMtlsMode(plan.outbound.serviceMtls, service.namespace) !== 'DISABLE';
}

/** The SANs a peer certificate presents: URI and DNS entries. */
function sansOf(cert: PeerCertificate): string[] {
  const all = (cert.subjectaltname ?? '').split(/,\s*/);
  const dns = all.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
  return [...uriSans(cert.subjectaltname), ...dns];
}

function sanCheck(expected: readonly string[]): TransportTls['verifyPeer'] {
  if (expected.length === 0) return null;
  return (cert) => {
    const got = sansOf(cert);
    return expected.some((e) => got.includes(e))
      ? null
      : `server identity ${JSON.stringify(got)} is none of the expected ${JSON.stringify(expected)}`;
  };
}

/**
 * The SANs SIMPLE/MUTUAL origination expects: the rule's, else the ServiceEntry's
 * `subjectAltNames` (istio cluster_tls.go: "Use subject alt names specified in service
 * entry if TLS settings does not have subject alt names").
 */
function simpleSans(policy: TlsPolicy, plan: MeshPlan, cluster: Cluster): readonly string[] {
  if (policy.subjectAltNames.length > 0) return policy.subjectAltNames;
  return plan.outbound.services[cluster.host]?.subjectAltNames ?? [];
}

function meshIdentityCheck(trustDomains: ReadonlySet<string>): NonNullable<TransportTls['verifyPeer']> {
  return (cert) =>
    peerFromCertificate(cert, trustDomains) !== null
      ? null
      : 'server presents no SPIFFE identity of this mesh';
}

/**
 * The host name of an authority (`name` or `name:port`), lower-cased; null when there is
 * none or it is an IP address, which SNI cannot carry (RFC 6066).
 */
function hostNameOf(authority: string | undefined): string | null {
  if (authority === undefined || authority.startsWith('[')) return null;
  const name = authority.replace(/:\d*$/, '').toLowerCase();
  return name === '' || isIP(name) !== 0 ? null : name;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/**
 * Chooses the client TLS for one attempt, as Istio configures the sidecar's upstream
 * TLS (spec/traffic.md §2 `tls.mode`; istio pilot/pkg/networking/core/cluster_tls.go):
 * no DestinationRule TLS = auto mTLS (ISTIO_MUTUAL to endpoints that run in the mesh,
 * plaintext to the rest); ISTIO_MUTUAL presents the workload certificate and checks the
 * server's SPIFFE identity against the endpoint's service account, or the rule's
 * `subjectAltNames`; SIMPLE/MUTUAL use the files the rule names, or the secret its
 * `credentialName` names (`credentials`).
 */
export function createTlsFor(
  getPlan: () => MeshPlan,
  certs: CertSource | null,
  credentials: ClientCredentialSource = new ClientCredentials(undefined, systemClock),
): (cluster: Cluster, host: UpstreamHost, authority?: string) => TransportTls | null {
  // Each SIMPLE or MUTUAL rule's credential handle, made on its first try (a reload brings
  // new policy objects, whose handles share the source's entries).
  const handles = new WeakMap<TlsPolicy, CredentialHandle>();
  const handleOf = (policy: TlsPolicy): CredentialHandle => {
    let handle = handles.get(policy);
    if (handle === undefined) {
      const mutual = policy.mode === 'MUTUAL';
      const s = policy.settings;
      const insecure = policy.insecureSkipVerify;
      handle =
        policy.credentialName !== null
          ? credentials.secret(policy.credentialName, mutual)
          : // insecureSkipVerify: no validation context at all, so the CA, the CRL and the SANs
            // go unused (istio cluster_tls.go constructUpstreamTLS); without caCertificates the
            // server is checked against the system roots.
            credentials.files({
              cert: mutual ? str(s['clientCertificate']) : null,
              key: mutual ? str(s['privateKey']) : null,
              ca: insecure ? null : str(s['caCertificates']),
              crl: insecure ? null : policy.caCrl,
            });
      handles.set(policy, handle);
    }
    return handle;
  };

  const istioMutual = (cluster: Cluster, host: UpstreamHost, policy: TlsPolicy | null): TransportTls => {
    const plan = getPlan();
    const current = certs?.current() ?? null;
    let expected: readonly string[] = policy?.subjectAltNames ?? [];
    if (expected.length === 0) expected = plan.outbound.services[cluster.host]?.subjectAltNames ?? [];
    const sa = host.endpoint.serviceAccount;
    if (expected.length === 0 && sa !== null) {
      const ns = plan.outbound.services[cluster.host]?.namespace ?? plan.workload.namespace;
      expected = sa.startsWith('spiffe://')
        ? [sa]
        : [`spiffe://${plan.meshConfig.trustDomain}/ns/${ns}/sa/${sa}`];
    }
    return {
      ca: current === null ? null : meshTrustBundle(current.rootCertPem, plan.meshConfig),
      cert: current?.certChainPem ?? null,
      key: current?.keyPem ?? null,
      // istiod's SNI for ISTIO_MUTUAL when the rule sets none: `outbound_.<port>_._.<host>`
      // (cluster_builder.go istioMtlsSni = BuildDNSSrvSubsetKey with no subset). The server
      // reads it as `connection.sni` and %REQUESTED_SERVER_NAME%.
      servername: policy?.sni ?? `outbound_.${cluster.port}_._.${cluster.host}`,
      // What an Istio client offers for HTTP/1.1 over ISTIO_MUTUAL (xds/filters mtlsHTTP11ALPN,
      // set by the ALPN override filter): a sidecar's inbound picks its mTLS HTTP filter
      // chain by it, and without it a PERMISSIVE HTTP port has no chain for the connection.
      alpn: ISTIO_HTTP11_ALPN,
      // With no SANs to expect, Istio still only trusts mesh identities: the chain to the
      // mesh root plus a SPIFFE ID of an accepted trust domain (never a DNS host-name check).
      verifyPeer: sanCheck(expected) ?? meshIdentityCheck(acceptedTrustDomains(plan.meshConfig)),
    };
  };

  return (cluster, host, authority) => {
    const policy = cluster.policy.tls;
    if (policy === null)
      return certs !== null && isMeshEndpoint(host) && autoMtlsApplies(getPlan(), cluster)
        ? istioMutual(cluster, host, null)
        : null;
    switch (policy.mode) {
      case 'DISABLE':
        return null;
      case 'ISTIO_MUTUAL':
        return istioMutual(cluster, host, policy);
      case 'SIMPLE':
      case 'MUTUAL': {
        const plan = getPlan();
        const insecure = policy.insecureSkipVerify;
        const name = policy.credentialName;
        // A sidecar that may not read the secret gets the cluster without TLS.
        if (name !== null && !readsCredential(plan, cluster, name)) return null;
        const material = handleOf(policy)();
        return {
          ca: material.ca,
          cert: material.cert,
          key: material.key,
          // No `sni`: Envoy's auto_sni, the name the request's Host header carries
          // (istio setAutoSniAndAutoSanValidation); a wildcard cluster has no other.
          servername: policy.sni ?? hostNameOf(authority) ?? cluster.host,
          verifyPeer: insecure ? null : sanCheck(simpleSans(policy, plan, cluster)),
          ...(insecure ? { insecureSkipVerify: true } : {}),
          ...(material.crl === null ? {} : { crl: material.crl }),
          // With an explicit `sni` and no SANs Istio sets neither auto_sni nor
          // auto_san_validation (setAutoSniAndAutoSanValidation): the chain is checked, the
          // name is not. Without `sni`, the server's name is checked against the host.
          ...(policy.sni !== null ? { checkName: false } : {}),
          // meshConfig tlsDefaults: non-ISTIO_MUTUAL upstreams only (istio cluster_tls.go).
          ...tlsDefaultsClientOptions(plan.meshConfig.tlsDefaults),
        };
      }
    }
  };
}
