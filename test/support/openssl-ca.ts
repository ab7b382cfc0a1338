import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate `OpensslCa.issue` made: PEM texts and the file the certificate is in. */
export interface IssuedCert {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
}

/**
 * A CA run by the `openssl` command (`.ci/run` installs it), for what node cannot make:
 * certificate revocation lists. EC keys, so each certificate takes milliseconds.
 */
export interface OpensslCa {
  readonly caFile: string;
  /** A server certificate for `dns` names (the first is also the common name). */
  issue(name: string, dns: readonly string[]): Promise<IssuedCert>;
  /** Revoke a certificate this CA issued. */
  revoke(cert: IssuedCert): Promise<void>;
  /** A CRL (PEM file) listing every certificate revoked so far. */
  crl(): Promise<string>;
}

async function ecKey(file: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
}

/** Makes a CA in `dir` (which must exist and be empty). */
export async function createOpensslCa(dir: string, name = 'meshlet test CA'): Promise<OpensslCa> {
  const at = (f: string) => path.join(dir, f);
  await ecKey(at('ca.key'));
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    at('ca.key'),
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    at('ca.crt'),
  ]);
  await writeFile(at('index.txt'), '');
  await writeFile(
    at('ca.cnf'),
    '[ca]\ndefault_ca = this\n[this]\ndatabase = index.txt\ndefault_md = sha256\ndefault_crl_days = 1\n',
  );
  const ca = ['-config', at('ca.cnf'), '-keyfile', at('ca.key'), '-cert', at('ca.crt')];
  let serial = 0;
  return {
    caFile: at('ca.crt'),
    issue: async (leaf, dns) => {
      serial++;
      const base = at(`${leaf}-${serial}`);
      await ecKey(`${base}.key`);
      await run('openssl', [
        'req',
        '-new',
        '-key',
        `${base}.key`,
        '-subj',
        `/CN=${dns[0] ?? leaf}`,
        '-out',
        `${base}.csr`,
      ]);
      await writeFile(
        `${base}.ext`,
        `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=${dns.map((d) => `DNS:${d}`).join(',')}\n`,
      );
      await run('openssl', [
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        at('ca.crt'),
        '-CAkey',
        at('ca.key'),
        '-set_serial',
        String(1000 + serial),
        '-days',
        '1',
        '-extfile',
        `${base}.ext`,
        '-out',
        `${base}.crt`,
      ]);
      return {
        cert: await readFile(`${base}.crt`, 'utf8'),
        key: await readFile(`${base}.key`, 'utf8'),
        certFile: `${base}.crt`,
      };
    },
    revoke: async (cert) => {
      await run('openssl', ['ca', ...ca, '-revoke', cert.certFile], { cwd: dir });
    },
    crl: async () => {
      await run('openssl', ['ca', ...ca, '-gencrl', '-out', at('crl.pem')], { cwd: dir });
      return at('crl.pem');
    },
  };
}
