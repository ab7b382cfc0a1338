/**
 * The PEM texts of a workload's mTLS material, as istio-agent writes them with
 * `OUTPUT_CERTS` (security.md §7): `cert-chain.pem`, `key.pem`, `root-cert.pem`.
 */
export interface WorkloadCertificateFiles {
  /** Leaf first, then any intermediates (never required to hold the root). */
  readonly certChainPem: string;
  /** The leaf's private key (PKCS#8 or PKCS#1 PEM). */
  readonly keyPem: string;
  /** The trusted root(s) peers must chain to. */
  readonly rootCertPem: string;
}

/** Loaded and checked workload certificates: the files plus what was read from the leaf. */
export interface WorkloadCertificates extends WorkloadCertificateFiles {
  /** The leaf's first `spiffe://` URI SAN, or null when it has none. */
  readonly spiffeId: string | null;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 fingerprint of the leaf (`AA:BB:...`), to tell one rotation from the next. */
  readonly fingerprint256: string;
  /** The directory the files were read from; null for certificates built in memory. */
  readonly directory: string | null;
}

/** Where a server gets its current certificates; a rotation swaps what `current()` returns. */
export interface CertSource {
  current(): WorkloadCertificates;
}

/** The file names of one mounted-certificate layout. */
export interface CertLayout {
  readonly name: 'k8s' | 'istio' | 'spiffe-helper';
  readonly certChain: string;
  readonly key: string;
  readonly rootCert: string;
}

/**
 * The layouts meshlet reads, in the order it looks for them (security.md §7): a Kubernetes
 * TLS secret or cert-manager csi-driver-spiffe volume, istio-agent `OUTPUT_CERTS`, spiffe-helper.
 */
export const CERT_LAYOUTS: readonly CertLayout[] = Object.freeze([
  Object.freeze({ name: 'k8s', certChain: 'tls.crt', key: 'tls.key', rootCert: 'ca.crt' } as const),
  Object.freeze({
    name: 'istio',
    certChain: 'cert-chain.pem',
    key: 'key.pem',
    rootCert: 'root-cert.pem',
  } as const),
  Object.freeze({
    name: 'spiffe-helper',
    certChain: 'svid.pem',
    key: 'svid_key.pem',
    rootCert: 'svid_bundle.pem',
  } as const),
]);
