import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the Kubernetes secrets a `credentialName` names are mounted: a directory holding
 * one directory per secret name, or a map from secret name to its directory.
 */
export type MountedCredentials = string | Readonly<Record<string, string>>;

/** The suffix of the CA-only credential beside a secret (security model `SdsCaSuffix`). */
export const CA_SUFFIX = '-cacert';

/** A secret's key and certificate chain, as istiod reads them (secrets.go `ExtractCertInfo`). */
export interface CertSecret {
  readonly cert: string;
  readonly key: string;
  readonly crl: string | null;
}

/** A secret's CA bundle (secrets.go `ExtractRoot`). */
export interface CaSecret {
  readonly ca: string;
  readonly crl: string | null;
}

export function credentialDir(credentials: MountedCredentials | undefined, name: string): string | null {
  if (credentials === undefined) return null;
  if (typeof credentials === 'string') return path.join(credentials, name);
  return credentials[name] ?? null;
}

/** The file's text; null when it does not exist or is empty (istiod's `hasValue`). */
function readKey(dir: string, key: string): string | null {
  try {
    const text = readFileSync(path.join(dir, key), 'utf8');
    return text === '' ? null : text;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * The key and chain of the secret mounted at `dir`, in istiod's order: the generic
 * secret's `cert` and `key`, else the TLS secret's `tls.crt` and `tls.key`, each with
 * its CRL (`crl`, `ca.crl`); null when it has neither pair.
 */
export function readCertSecret(dir: string): CertSecret | null {
  const cert = readKey(dir, 'cert');
  const key = readKey(dir, 'key');
  if (cert !== null && key !== null) return { cert, key, crl: readKey(dir, 'crl') };
  const tlsCert = readKey(dir, 'tls.crt');
  const tlsKey = readKey(dir, 'tls.key');
  if (tlsCert !== null && tlsKey !== null) return { cert: tlsCert, key: tlsKey, crl: readKey(dir, 'ca.crl') };
  return null;
}

/** The CA of the secret mounted at `dir`: `cacert` (with `crl`), else `ca.crt` (with `ca.crl`). */
export function readCaSecret(dir: string): CaSecret | null {
  const generic = readKey(dir, 'cacert');
  if (generic !== null) return { ca: generic, crl: readKey(dir, 'crl') };
  const tls = readKey(dir, 'ca.crt');
  if (tls !== null) return { ca: tls, crl: readKey(dir, 'ca.crl') };
  return null;
}

/**
 * The CA a `credentialName` stands for where a validation context needs one: istiod asks
 * for `<name>-cacert`, which is that secret when it exists (mounted), else `<name>`'s own
 * CA (pilot/pkg/credentials/kube/secrets.go `GetCaCert`: no fallback from a `-cacert`
 * secret without a CA). `dir` is where it was read.
 */
export function readCredentialCa(
  credentials: MountedCredentials | undefined,
  name: string,
): (CaSecret & { readonly dir: string }) | null {
  const own = credentialDir(credentials, `${name}${CA_SUFFIX}`);
  const dir = own !== null && existsSync(own) ? own : credentialDir(credentials, name);
  if (dir === null) return null;
  const found = readCaSecret(dir);
  return found === null ? null : { ...found, dir };
}
