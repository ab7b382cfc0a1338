import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll } from 'vitest';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';

/** A test file's development CA, made once before its tests. */
export interface TestCa {
  /** The CA (read inside a test: it exists once `beforeAll` ran). */
  readonly ca: () => CertificateAuthority;
  /** A fresh directory of mounted workload certificates (`tls.crt`, ...) for `serviceAccount`. */
  readonly certsFor: (serviceAccount: string, namespace?: string) => Promise<string>;
}

export function useDevCa(tmp: () => Promise<string>): TestCa {
  let ca: CertificateAuthority | null = null;
  beforeAll(async () => {
    ca = await createDevCa();
  });
  const current = (): CertificateAuthority => {
    if (ca === null) throw new Error('the dev CA is made in beforeAll');
    return ca;
  };
  return {
    ca: current,
    certsFor: async (serviceAccount, namespace = 'default') => {
      const dir = path.join(await tmp(), serviceAccount);
      await mkdir(dir);
      const cert = await issueWorkloadCertificate({ ca: current(), namespace, serviceAccount, ttl: '1h' });
      await writeWorkloadCertificates(dir, cert);
      return dir;
    },
  };
}
