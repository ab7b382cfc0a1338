import type { PeerIdentity } from '../inbound/request-context.js';
import type { CertSource, WorkloadCertificates } from '../identity/types.js';
import type { ClientCredentialSource, CredentialFiles } from '../mesh/client-credentials.js';

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

const secretText = (what: string) => `mock ${what} (no key material)`;

/**
 * The mock cluster's secrets and mounted files for DestinationRule TLS origination: every
 * `credentialName` and file a rule names is there (the mock network plays the handshake and
 * reads no PEM), so a rule behaves as it does once its secret exists; who reads it (a
 * gateway, a sidecar whose rule has a workloadSelector) stays outbound-tls.ts's decision.
 */
export const VIRTUAL_CLIENT_CREDENTIALS: ClientCredentialSource = Object.freeze({
  secret: (name: string, mutual: boolean) => {
    const credential = {
      cert: mutual ? secretText(`certificate of secret ${name}`) : null,
      key: mutual ? secretText(`key of secret ${name}`) : null,
      ca: secretText(`CA of secret ${name}`),
      crl: null,
    };
    return () => credential;
  },
  files: (f: CredentialFiles) => {
    const credential = {
      cert: f.cert === null ? null : secretText(f.cert),
      key: f.key === null ? null : secretText(f.key),
      ca: f.ca === null ? null : secretText(f.ca),
      crl: null,
    };
    return () => credential;
  },
});
