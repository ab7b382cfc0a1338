import type { PeerIdentity } from '../inbound/request-context.js';
import type { CertSource, WorkloadCertificates } from '../identity/types.js';

const YEAR_MS = 365 * 86_400_000;

/** The text a mock workload's certificate, key and root "PEM" hold. */
export function virtualCertificateText(identity: PeerIdentity): string {
  return `mock certificate of spiffe://${identity.principal} (no key material)`;
}

/**
 * A mock workload's certificates: its SPIFFE identity with no key material. The mock
 * network plays the handshake from the identities (mock-network.ts), so no key is made
 * (an RSA key takes ~200 ms) and none is read; the outbound pipeline only needs to know
 * the workload has certificates to choose auto mTLS, as a sidecar with istio-agent's does.
 */
export function virtualCertificates(identity: PeerIdentity | null): CertSource | undefined {
  if (identity === null) return undefined;
  const spiffeId = `spiffe://${identity.principal}`;
  const placeholder = virtualCertificateText(identity);
  const certs: WorkloadCertificates = Object.freeze({
    certChainPem: placeholder,
    keyPem: placeholder,
    rootCertPem: placeholder,
    spiffeId,
    notBefore: new Date(0),
    notAfter: new Date(Date.now() + YEAR_MS),
    fingerprint256: '',
    directory: null,
  });
  return { current: () => certs };
}
