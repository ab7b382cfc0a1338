import { createPrivateKey } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { MeshletError } from '../errors/meshlet-error.js';
import { chainsToRoot, parseCertificates } from './pem.js';
import { uriSans } from './spiffe.js';
import {
  CERT_LAYOUTS,
  type CertLayout,
  type CertSource,
  type WorkloadCertificateFiles,
  type WorkloadCertificates,
} from './types.js';

export interface CertCheckOptions {
  /** Wall-clock time in ms (default `Date.now`): the leaf must be valid at this instant. */
  readonly now?: () => number;
  readonly directory?: string | null;
}

function certsError(message: string, directory: string | null, cause?: unknown): MeshletError {
  return new MeshletError(
    'MESHLET_ERR_IDENTITY_CERTS',
    directory === null ? message : `${directory}: ${message}`,
    { directory },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Check workload certificates the way istio-agent does before handing them to Envoy
 * (security.md §7): the chain and roots parse, the key fits the leaf, the leaf chains to
 * a root, and the leaf is within its validity. Throws MESHLET_ERR_IDENTITY_CERTS naming
 * the problem; returns the frozen, checked certificates.
 */
export function checkCertificates(
  files: WorkloadCertificateFiles,
  options: CertCheckOptions = {},
): WorkloadCertificates {
  const directory = options.directory ?? null;
  let chain;
  let roots;
  try {
    chain = parseCertificates(files.certChainPem, 'the certificate chain');
    roots = parseCertificates(files.rootCertPem, 'the root certificate bundle');
  } catch (err) {
    throw certsError((err as Error).message, directory, err);
  }
  const leaf = chain[0];
  if (leaf === undefined) throw certsError('the certificate chain is empty', directory);
  let key;
  try {
    key = createPrivateKey(files.keyPem);
  } catch (err) {
    throw certsError(`the private key does not parse (${(err as Error).message})`, directory, err);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw certsError(
      'the private key does not match the leaf certificate (a rotation half-written?)',
      directory,
    );
  }
  if (!chainsToRoot(leaf, chain.slice(1), roots)) {
    throw certsError('the leaf certificate does not chain to any certificate of the root bundle', directory);
  }
  const now = (options.now ?? Date.now)();
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now < notBefore.getTime()) {
    throw certsError(`the leaf certificate is not valid before ${notBefore.toISOString()}`, directory);
  }
  if (now > notAfter.getTime()) {
    throw certsError(`the leaf certificate expired at ${notAfter.toISOString()}`, directory);
  }
  const spiffeId = uriSans(leaf.subjectAltName).find((u) => u.startsWith('spiffe://')) ?? null;
  return Object.freeze({
    certChainPem: files.certChainPem,
    keyPem: files.keyPem,
    rootCertPem: files.rootCertPem,
    spiffeId,
    notBefore,
    notAfter,
    fingerprint256: leaf.fingerprint256,
    directory,
  });
}

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The target of a Kubernetes volume's `..data` symlink in `dir`, or null when it has none. */
export async function volumeGeneration(dir: string): Promise<string | null> {
  try {
    return path.resolve(dir, await readlink(path.join(dir, '..data')));
  } catch {
    return null;
  }
}

/**
 * Read the three files of whichever layout `dir` holds (`tls.crt`/`tls.key`/`ca.crt`,
 * `cert-chain.pem`/`key.pem`/`root-cert.pem`, `svid.pem`/`svid_key.pem`/`svid_bundle.pem`).
 * In a Kubernetes secret volume they are read from the one `..<timestamp>` directory `..data`
 * points at: the kubelet's AtomicWriter fills that directory before it swaps `..data`, so
 * the three files are of one generation even when a swap lands between two reads (through
 * the visible names, a read could take the old certificate and the new key). A directory
 * without `..data`, or whose `..data` holds none of the layouts, is read as it is.
 */
export async function readCertDir(
  dir: string,
): Promise<{ layout: CertLayout; files: WorkloadCertificateFiles }> {
  const generation = await volumeGeneration(dir);
  if (generation !== null) {
    const found = await readLayout(generation, dir);
    if (found !== null) return found;
  }
  const found = await readLayout(dir, dir);
  if (found !== null) return found;
  throw certsError(
    `no workload certificates: expected ${CERT_LAYOUTS.map((l) => `${l.certChain}/${l.key}/${l.rootCert}`).join(' or ')}`,
    dir,
  );
}

/** The files of the first layout found in `from`, or null; errors name `dir`. */
async function readLayout(
  from: string,
  dir: string,
): Promise<{ layout: CertLayout; files: WorkloadCertificateFiles } | null> {
  for (const layout of CERT_LAYOUTS) {
    let certChainPem: string | null;
    try {
      certChainPem = await readIfPresent(path.join(from, layout.certChain));
    } catch (err) {
      throw certsError(`cannot read ${layout.certChain} (${(err as Error).message})`, dir, err);
    }
    if (certChainPem === null) continue;
    const read = async (name: string): Promise<string> => {
      let text: string | null;
      try {
        text = await readIfPresent(path.join(from, name));
      } catch (err) {
        throw certsError(`cannot read ${name} (${(err as Error).message})`, dir, err);
      }
      if (text === null) throw certsError(`${layout.certChain} is present but ${name} is missing`, dir);
      return text;
    };
    return {
      layout,
      files: { certChainPem, keyPem: await read(layout.key), rootCertPem: await read(layout.rootCert) },
    };
  }
  return null;
}

/** Read and check the workload certificates mounted in `dir` (any layout of `CERT_LAYOUTS`). */
export async function loadCertDir(
  dir: string,
  options: Omit<CertCheckOptions, 'directory'> = {},
): Promise<WorkloadCertificates> {
  const { files } = await readCertDir(dir);
  return checkCertificates(files, { ...options, directory: dir });
}

/** A CertSource that never rotates: for certificates issued in memory (tests, `meshlet certs`). */
export function staticCertSource(certificates: WorkloadCertificates): CertSource {
  return Object.freeze({ current: () => certificates });
}
