import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { parseGoDuration } from '../config/validate/duration.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { formatSpiffeId } from './spiffe.js';
import { splitPemCertificates } from './pem.js';
import type { WorkloadCertificateFiles } from './types.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A certificate authority that signs workload certificates. */
export interface CertificateAuthority {
  /** The issuing CA certificate. */
  readonly certPem: string;
  readonly keyPem: string;
  /** Intermediates between the issuing CA and the root, issuing CA first; '' when it is the root. */
  readonly chainPem: string;
  /** The root peers trust (`root-cert.pem` / `ca.crt`). */
  readonly rootCertPem: string;
}

export interface DevCaOptions {
  /** Subject CN (default `meshlet development CA`). */
  readonly commonName?: string;
  /** Validity in days (default 3650: istiod's self-signed root lives 10 years, security.md §7). */
  readonly ttlDays?: number;
  /** Wall-clock time in ms (default `Date.now`). */
  readonly now?: () => number;
}

export interface IssueOptions {
  readonly ca: CertificateAuthority;
  /** meshConfig `trustDomain` (default `cluster.local`). */
  readonly trustDomain?: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Go duration (`24h`, `1h`, `90s`) or milliseconds. Default `24h`, istio-agent's `SECRET_TTL`. */
  readonly ttl?: string | number;
  /** Extra DNS SANs (e.g. the Service host), so the certificate also serves plain TLS clients. */
  readonly dnsNames?: readonly string[];
  readonly now?: () => number;
}

/** A workload certificate as istio-agent would hold it, plus the leaf's SPIFFE ID. */
export interface IssuedCertificate extends WorkloadCertificateFiles {
  readonly spiffeId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const DAY_MS = 86_400_000;
/** istiod refuses workload TTLs above 90 days (`MAX_WORKLOAD_CERT_TTL`, security.md §7). */
const MAX_TTL_MS = 90 * DAY_MS;
/** A DNS-1123 label: what Kubernetes allows for namespace and service account names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

function issueError(message: string, details: Record<string, unknown> = {}): MeshletError {
  return new MeshletError('MESHLET_ERR_IDENTITY_ISSUE', message, details);
}

async function rsaKeyPair(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  // RSA 2048, as istio-agent generates by default (security.md §7).
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** X.509 times have whole seconds; round down so the reported times are the encoded ones. */
function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/**
 * A certificate serial from 16 random bytes: a positive INTEGER (RFC 5280 §4.1.2.2) whose
 * first byte is 0x01-0x7f, so its DER encoding is minimal. node-forge drops one leading 0x00
 * byte; with two (a first random byte of 0x00 or 0x80 then 0x00) one stayed before a byte
 * below 0x80, and OpenSSL 3 refused the certificate ("illegal padding", seen once in CI).
 */
export function serialNumberHex(random: Buffer): string {
  const bytes = Buffer.from(random);
  bytes[0] = 1 + ((bytes[0] ?? 0) % 0x7f);
  return bytes.toString('hex');
}

function serialNumber(): string {
  return serialNumberHex(randomBytes(16));
}

/**
 * A self-signed development root CA (RSA 2048, SHA-256), like istiod's self-signed
 * `istio-ca-secret`. For development and tests: production meshes plug in their own CA.
 */
export async function createDevCa(options: DevCaOptions = {}): Promise<CertificateAuthority> {
  const ttlDays = options.ttlDays ?? 3650;
  if (!Number.isFinite(ttlDays) || ttlDays <= 0) throw issueError(`ttlDays must be positive, got ${ttlDays}`);
  const now = wholeSeconds((options.now ?? Date.now)());
  const keys = await rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now);
  cert.validity.notAfter = new Date(now + ttlDays * DAY_MS);
  const subject = [
    { name: 'organizationName', value: 'meshlet' },
    { name: 'commonName', value: options.commonName ?? 'meshlet development CA' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
  return Object.freeze({ certPem, keyPem: keys.privateKeyPem, chainPem: '', rootCertPem: certPem });
}

function ttlMs(ttl: string | number | undefined): number {
  if (ttl === undefined) return DAY_MS;
  const ms = typeof ttl === 'number' ? ttl : parseGoDuration(ttl);
  if (ms === null || !Number.isFinite(ms)) {
    throw issueError(`ttl ${JSON.stringify(ttl)} is not a duration (use e.g. "24h", "1h", "90s")`);
  }
  if (ms < 1000) throw issueError(`ttl must be at least 1s, got ${JSON.stringify(ttl)}`);
  if (ms > MAX_TTL_MS) throw issueError(`ttl must be at most 90 days (2160h), got ${JSON.stringify(ttl)}`);
  return ms;
}

function checkNames(options: IssueOptions, trustDomain: string): void {
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw issueError(
      `trust domain ${JSON.stringify(trustDomain)} must be lower-case letters, digits, '.', '-' or '_'`,
    );
  }
  for (const [field, value] of [
    ['namespace', options.namespace],
    ['service account', options.serviceAccount],
  ] as const) {
    // Service account names may hold dots (DNS subdomain); namespaces may not.
    const ok =
      field === 'namespace' ? DNS_LABEL.test(value) : value.split('.').every((p) => DNS_LABEL.test(p));
    if (!ok || value.length > 253) {
      throw issueError(`${field} ${JSON.stringify(value)} is not a valid Kubernetes name`);
    }
  }
}

function caSubjectKeyId(caCert: forge.pki.Certificate): string | null {
  const ext: unknown = caCert.getExtension('subjectKeyIdentifier');
  const hex =
    typeof ext === 'object' && ext !== null
      ? (ext as Record<string, unknown>)['subjectKeyIdentifier']
      : undefined;
  return typeof hex === 'string' ? forge.util.hexToBytes(hex) : null;
}

/**
 * Issue a workload certificate: URI SAN `spiffe://<td>/ns/<ns>/sa/<sa>` (critical, with an
 * empty subject, as istiod issues them), key usage digitalSignature + keyEncipherment,
 * extended key usage serverAuth + clientAuth, RSA 2048, SHA-256. The lifetime is clamped
 * to the CA's remaining life (istio `minTTL`). `certChainPem` is the leaf plus the CA's
 * intermediates (the root goes only in `rootCertPem`, as istio-agent splits them).
 */
export async function issueWorkloadCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const trustDomain = options.trustDomain ?? 'cluster.local';
  checkNames(options, trustDomain);
  const lifetime = ttlMs(options.ttl);
  let caCert: forge.pki.Certificate;
  let caKey: forge.pki.rsa.PrivateKey;
  try {
    caCert = forge.pki.certificateFromPem(options.ca.certPem);
    caKey = forge.pki.privateKeyFromPem(options.ca.keyPem);
  } catch (err) {
    throw issueError(
      `the CA certificate or key cannot be read (an RSA certificate and key in PEM are required): ${err instanceof Error ? err.message : String(err)}`,
      { ca: true },
    );
  }
  const caX509 = new X509Certificate(options.ca.certPem);
  if (!caX509.ca)
    throw issueError('the CA certificate is not a CA (basicConstraints CA:FALSE)', { ca: true });
  if (!caX509.checkPrivateKey(createPrivateKey(options.ca.keyPem))) {
    throw issueError('the CA key does not belong to the CA certificate', { ca: true });
  }
  const now = wholeSeconds((options.now ?? Date.now)());
  const caNotAfter = caCert.validity.notAfter.getTime();
  if (caNotAfter <= now) {
    throw issueError(`the CA certificate expired at ${caCert.validity.notAfter.toISOString()}`, { ca: true });
  }
  const spiffeId = formatSpiffeId({
    trustDomain,
    namespace: options.namespace,
    serviceAccount: options.serviceAccount,
  });
  const keys = await rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now);
  cert.validity.notAfter = new Date(Math.min(now + lifetime, caNotAfter));
  cert.setSubject([]);
  cert.setIssuer(caCert.subject.attributes);
  const akid = caSubjectKeyId(caCert);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      // An empty subject makes the SAN extension critical (RFC 5280 §4.2.1.6).
      critical: true,
      altNames: [
        { type: 6, value: spiffeId },
        ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
      ],
    },
    ...(akid === null ? [] : [{ name: 'authorityKeyIdentifier', keyIdentifier: akid }]),
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  const leafPem = forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
  const chain = [leafPem, ...splitPemCertificates(intermediatesOf(options.ca))];
  return Object.freeze({
    certChainPem: chain.join(''),
    keyPem: keys.privateKeyPem,
    rootCertPem: options.ca.rootCertPem,
    spiffeId,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  });
}

/** The certificates a leaf's chain must carry after itself: none for a root CA. */
function intermediatesOf(ca: CertificateAuthority): string {
  if (ca.chainPem !== '') return ca.chainPem;
  const self = new X509Certificate(ca.certPem);
  return self.checkIssued(self) ? '' : ca.certPem;
}
