import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertificateAuthority } from './dev-ca.js';
import { CERT_LAYOUTS, type CertLayout, type WorkloadCertificateFiles } from './types.js';

/** File names `meshlet certs ca` writes. */
export const CA_FILES = Object.freeze({ cert: 'ca.crt', key: 'ca.key' });

/** istiod's plug-in CA secret `cacerts` (istio.io "Plug in CA certificates"). */
const ISTIO_CACERTS = Object.freeze({
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  root: 'root-cert.pem',
});

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function writeAll(
  dir: string,
  files: readonly (readonly [string, string, number])[],
): Promise<readonly string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text, mode] of files) {
    const file = path.join(dir, name);
    await writeFile(file, text, { mode });
    written.push(file);
  }
  return written;
}

/** Write a CA as `ca.crt` and `ca.key` (mode 0600). Returns the files written. */
export function writeCa(dir: string, ca: CertificateAuthority): Promise<readonly string[]> {
  return writeAll(dir, [
    [CA_FILES.cert, ca.certPem, 0o644],
    [CA_FILES.key, ca.keyPem, 0o600],
  ]);
}

function caError(message: string, dir: string): MeshletError {
  return new MeshletError('MESHLET_ERR_IDENTITY_ISSUE', message, { directory: dir });
}

/**
 * Read a CA from `dir`: `ca.crt` + `ca.key` (what `meshlet certs ca` writes), or Istio's
 * plug-in `cacerts` layout `ca-cert.pem` + `ca-key.pem` with optional `cert-chain.pem`
 * and `root-cert.pem` (an intermediate CA under an offline root).
 */
export async function readCa(dir: string): Promise<CertificateAuthority> {
  const read = (name: string) => readFile(path.join(dir, name), 'utf8');
  if (await exists(path.join(dir, CA_FILES.cert))) {
    if (!(await exists(path.join(dir, CA_FILES.key)))) {
      throw caError(
        `${path.join(dir, CA_FILES.key)} is missing: the CA key is needed to issue certificates`,
        dir,
      );
    }
    const certPem = await read(CA_FILES.cert);
    return Object.freeze({ certPem, keyPem: await read(CA_FILES.key), chainPem: '', rootCertPem: certPem });
  }
  if (await exists(path.join(dir, ISTIO_CACERTS.cert))) {
    const certPem = await read(ISTIO_CACERTS.cert);
    const keyPem = await read(ISTIO_CACERTS.key).catch(() => {
      throw caError(`${path.join(dir, ISTIO_CACERTS.key)} is missing or unreadable`, dir);
    });
    const rootCertPem = (await exists(path.join(dir, ISTIO_CACERTS.root)))
      ? await read(ISTIO_CACERTS.root)
      : certPem;
    // Istio's cert-chain.pem runs from the CA up to (and including) the root; the leaf
    // chain carries every certificate of it except the root itself.
    const chainPem = (await exists(path.join(dir, ISTIO_CACERTS.chain)))
      ? await read(ISTIO_CACERTS.chain)
      : rootCertPem === certPem
        ? ''
        : certPem;
    return Object.freeze({ certPem, keyPem, chainPem: withoutRoot(chainPem, rootCertPem), rootCertPem });
  }
  throw caError(
    `no CA in ${dir}: expected ${CA_FILES.cert} and ${CA_FILES.key} (meshlet certs ca) or ${ISTIO_CACERTS.cert} and ${ISTIO_CACERTS.key} (Istio cacerts)`,
    dir,
  );
}

function withoutRoot(chainPem: string, rootCertPem: string): string {
  const normalize = (pem: string) => pem.replace(/\s+/g, '');
  const roots = new Set(
    rootCertPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map(normalize),
  );
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks
    .filter((b) => !roots.has(normalize(b)))
    .map((b) => `${b}\n`)
    .join('');
}

/** The layout named `name`. */
export function certLayout(name: CertLayout['name']): CertLayout {
  const layout = CERT_LAYOUTS.find((l) => l.name === name);
  if (layout === undefined)
    throw new MeshletError('MESHLET_ERR_IDENTITY_ISSUE', `unknown layout ${JSON.stringify(name)}`);
  return layout;
}

/**
 * Write workload certificates in a layout: `k8s` (`tls.crt`, `tls.key`, `ca.crt`),
 * `istio` (`cert-chain.pem`, `key.pem`, `root-cert.pem`) or `spiffe-helper`. The key is 0600.
 */
export function writeWorkloadCertificates(
  dir: string,
  files: WorkloadCertificateFiles,
  layout: CertLayout['name'] = 'k8s',
): Promise<readonly string[]> {
  const l = certLayout(layout);
  return writeAll(dir, [
    [l.certChain, files.certChainPem, 0o644],
    [l.key, files.keyPem, 0o600],
    [l.rootCert, files.rootCertPem, 0o644],
  ]);
}
