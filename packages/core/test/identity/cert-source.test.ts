import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMeshletError } from '../../src/errors/meshlet-error.js';
import { writeWorkloadCertificates } from '../../src/identity/cert-files.js';
import { checkCertificates, loadCertDir } from '../../src/identity/cert-source.js';
import { useTmpDir } from '../helpers/tmp.js';
import { k8sFiles, mountK8sVolume, sharedCa, workloadCert } from './support.js';

const tmp = useTmpDir();

describe('loadCertDir', () => {
  it.each(['k8s', 'istio', 'spiffe-helper'] as const)(
    'loads the %s layout and reads the SPIFFE ID',
    async (layout) => {
      const cert = await workloadCert('shop', 'cart');
      const dir = await tmp();
      await writeWorkloadCertificates(dir, cert, layout);
      const loaded = await loadCertDir(dir);
      expect(loaded.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
      expect(loaded.notAfter.getTime()).toBe(cert.notAfter.getTime());
      expect(loaded.keyPem).toBe(cert.keyPem);
      expect(loaded.directory).toBe(dir);
    },
  );

  it('names the missing file when a layout is incomplete', async () => {
    const cert = await workloadCert();
    const dir = await tmp();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'cert-chain.pem'), cert.certChainPem);
    await writeFile(path.join(dir, 'root-cert.pem'), cert.rootCertPem);
    const err: unknown = await loadCertDir(dir).catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_IDENTITY_CERTS');
    expect((err as Error).message).toContain('key.pem is missing');
  });

  it("reads a secret volume's files from the generation ..data points at, all of one generation", async () => {
    // Through the visible names, a kubelet swap between two reads hands out the old certificate
    // and the new key. The generation directory is complete before the swap (AtomicWriter), so
    // reading inside it cannot mix two. Here the visible tls.key names another key outright.
    const first = await workloadCert();
    const other = await workloadCert();
    const dir = await tmp();
    await mountK8sVolume(dir, k8sFiles(first));
    await rm(path.join(dir, 'tls.key'));
    await writeFile(path.join(dir, 'tls.key'), other.keyPem);
    const loaded = await loadCertDir(dir);
    expect(loaded.keyPem).toBe(first.keyPem);
    expect(loaded.directory).toBe(dir);
  });

  it('fails on an empty directory listing the layouts it looks for', async () => {
    const err: unknown = await loadCertDir(await tmp()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/tls\.crt.*cert-chain\.pem.*svid\.pem/);
  });
});

describe('checkCertificates', () => {
  it('accepts a consistent set and reports its validity window', async () => {
    const cert = await workloadCert();
    const checked = checkCertificates(cert);
    expect(checked.notBefore.getTime()).toBe(cert.notBefore.getTime());
    expect(checked.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it.each([
    [
      'a key that belongs to another certificate',
      async () => ({ ...(await workloadCert()), keyPem: (await workloadCert('x', 'y')).keyPem }),
      'does not match',
    ],
    [
      'a truncated certificate (half-written)',
      async () => {
        const c = await workloadCert();
        return { ...c, certChainPem: c.certChainPem.slice(0, c.certChainPem.length / 2) };
      },
      'no PEM certificate',
    ],
    [
      'a corrupted certificate body',
      async () => {
        const c = await workloadCert();
        return {
          ...c,
          certChainPem: c.certChainPem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!'),
        };
      },
      'does not parse',
    ],
    [
      'an empty key file',
      async () => ({ ...(await workloadCert()), keyPem: '' }),
      'private key does not parse',
    ],
    [
      'a root from another CA',
      async () => ({ ...(await workloadCert()), rootCertPem: (await sharedCa('other')).rootCertPem }),
      'does not chain',
    ],
    [
      'an expired leaf',
      async () => workloadCert('a', 'b', { ttl: '1h', now: () => Date.now() - 2 * 3600_000 }),
      'expired at',
    ],
    [
      'a leaf valid only in the future',
      async () => workloadCert('a', 'b', { now: () => Date.now() + 3600_000 }),
      'not valid before',
    ],
  ])('refuses %s', async (_name, make, reason) => {
    const files = await make();
    let err: unknown;
    try {
      checkCertificates(files);
    } catch (e) {
      err = e;
    }
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_IDENTITY_CERTS');
    expect((err as Error).message).toContain(reason);
  });
});
