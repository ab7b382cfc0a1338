import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/identity/dev-ca.js';

const cas = new Map<string, Promise<CertificateAuthority>>();

/** One development CA per name for the whole test file: RSA key generation is slow. */
export function sharedCa(name = 'mesh'): Promise<CertificateAuthority> {
  const known = cas.get(name);
  if (known !== undefined) return known;
  const made = createDevCa({ commonName: `${name} CA` });
  cas.set(name, made);
  return made;
}

export async function workloadCert(
  namespace = 'foo',
  serviceAccount = 'httpbin',
  extra: { ca?: CertificateAuthority; trustDomain?: string; ttl?: string; now?: () => number } = {},
): Promise<IssuedCertificate> {
  return issueWorkloadCertificate({
    ca: extra.ca ?? (await sharedCa()),
    namespace,
    serviceAccount,
    ...(extra.trustDomain === undefined ? {} : { trustDomain: extra.trustDomain }),
    ...(extra.ttl === undefined ? {} : { ttl: extra.ttl }),
    ...(extra.now === undefined ? {} : { now: extra.now }),
  });
}

export type K8sFiles = Readonly<Record<string, string>>;

export function k8sFiles(cert: { certChainPem: string; keyPem: string; rootCertPem: string }): K8sFiles {
  return { 'tls.crt': cert.certChainPem, 'tls.key': cert.keyPem, 'ca.crt': cert.rootCertPem };
}

let generation = 0;

async function timestampDir(dir: string, files: K8sFiles): Promise<string> {
  const name = `..2026_11_25_23_00_${String(generation++).padStart(2, '0')}.${process.pid}`;
  await mkdir(path.join(dir, name));
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, name, file), text);
  return name;
}

/**
 * A Kubernetes secret volume as the kubelet's AtomicWriter lays it out:
 * `..<timestamp>/` holds the files, `..data` points at it, each visible name points into `..data`.
 */
export async function mountK8sVolume(dir: string, files: K8sFiles): Promise<void> {
  const ts = await timestampDir(dir, files);
  await symlink(ts, path.join(dir, '..data'));
  for (const file of Object.keys(files)) await symlink(path.join('..data', file), path.join(dir, file));
}

/** The kubelet's update: a new `..<timestamp>` dir, `..data_tmp` pointing at it, renamed over `..data`, old dir removed. */
export async function kubeletSwap(dir: string, files: K8sFiles, old?: string): Promise<string> {
  const ts = await timestampDir(dir, files);
  await symlink(ts, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  if (old !== undefined) await rm(path.join(dir, old), { recursive: true, force: true });
  return ts;
}
