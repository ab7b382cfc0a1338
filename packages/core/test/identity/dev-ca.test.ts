import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { readCa, writeCa, writeWorkloadCertificates } from '../../src/identity/cert-files.js';
import { createDevCa, issueWorkloadCertificate, serialNumberHex } from '../../src/identity/dev-ca.js';
import { isMeshletError } from '../../src/errors/meshlet-error.js';
import { useTmpDir } from '../helpers/tmp.js';
import { sharedCa } from './support.js';

const tmp = useTmpDir();

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('issueWorkloadCertificate', () => {
  it('issues a certificate openssl verifies against the CA, with the SPIFFE URI SAN', async () => {
    const ca = await sharedCa();
    const cert = await issueWorkloadCertificate({
      ca,
      namespace: 'foo',
      serviceAccount: 'httpbin',
      dnsNames: ['httpbin.foo.svc.cluster.local'],
    });
    const dir = await tmp();
    await writeWorkloadCertificates(dir, cert, 'k8s');
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'tls.crt'))).toContain(
      ': OK',
    );
    const san = openssl('x509', '-noout', '-ext', 'subjectAltName', '-in', path.join(dir, 'tls.crt'));
    expect(san).toContain('critical');
    expect(san).toContain('URI:spiffe://cluster.local/ns/foo/sa/httpbin');
    expect(san).toContain('DNS:httpbin.foo.svc.cluster.local');
    const usage = openssl(
      'x509',
      '-noout',
      '-ext',
      'extendedKeyUsage,keyUsage',
      '-in',
      path.join(dir, 'tls.crt'),
    );
    expect(usage).toContain('TLS Web Server Authentication');
    expect(usage).toContain('TLS Web Client Authentication');
    expect(usage).toContain('Digital Signature');
    expect((await stat(path.join(dir, 'tls.key'))).mode & 0o777).toBe(0o600);
  });

  it('puts the trust domain in the SPIFFE ID and defaults the lifetime to 24h', async () => {
    const ca = await sharedCa();
    const now = Date.UTC(2026, 0, 1);
    const cert = await issueWorkloadCertificate({
      ca,
      trustDomain: 'example.org',
      namespace: 'shop',
      serviceAccount: 'cart',
      now: () => now,
    });
    const leaf = new X509Certificate(cert.certChainPem);
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/ns/shop/sa/cart');
    expect(cert.spiffeId).toBe('spiffe://example.org/ns/shop/sa/cart');
    expect(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()).toBe(24 * 3600_000);
    expect(leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(leaf.ca).toBe(false);
  });

  it.each([
    ['1h', 3600_000],
    ['90s', 90_000],
    [5000, 5000],
  ])('honours a short lifetime %s', async (ttl, ms) => {
    const ca = await sharedCa();
    const cert = await issueWorkloadCertificate({ ca, namespace: 'a', serviceAccount: 'b', ttl });
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(ms);
  });

  it('clamps the lifetime to the CA remaining life', async () => {
    const now = Date.UTC(2026, 0, 1);
    const ca = await createDevCa({ ttlDays: 1, now: () => now });
    const cert = await issueWorkloadCertificate({
      ca,
      namespace: 'a',
      serviceAccount: 'b',
      ttl: '48h',
      now: () => now,
    });
    expect(cert.notAfter.getTime()).toBe(now + 24 * 3600_000);
  });

  it.each([
    [{ ttl: 'soon' }, 'not a duration'],
    [{ ttl: '500ms' }, 'at least 1s'],
    [{ ttl: '2400h' }, 'at most 90 days'],
    [{ namespace: 'Foo' }, 'namespace'],
    [{ serviceAccount: 'a/b' }, 'service account'],
    [{ trustDomain: 'Bad Domain' }, 'trust domain'],
  ])('refuses %o with a coded error', async (bad, message) => {
    const ca = await sharedCa();
    const err: unknown = await issueWorkloadCertificate({
      ca,
      namespace: 'a',
      serviceAccount: 'b',
      ...bad,
    }).catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_IDENTITY_ISSUE');
    expect((err as Error).message).toContain(message);
  });
});

describe('readCa', () => {
  it('reads back what writeCa wrote and issues from it', async () => {
    const dir = await tmp();
    await writeCa(dir, await createDevCa({ commonName: 'round trip' }));
    const ca = await readCa(dir);
    expect(new X509Certificate(ca.certPem).subject).toContain('CN=round trip');
    expect((await stat(path.join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    const cert = await issueWorkloadCertificate({ ca, namespace: 'a', serviceAccount: 'b' });
    const out = await tmp();
    await writeWorkloadCertificates(out, cert, 'istio');
    expect(await readFile(path.join(out, 'root-cert.pem'), 'utf8')).toBe(ca.certPem);
    expect(
      openssl('verify', '-CAfile', path.join(out, 'root-cert.pem'), path.join(out, 'cert-chain.pem')),
    ).toContain(': OK');
  });

  it('fails with a coded error naming what is missing', async () => {
    const dir = await tmp();
    const err: unknown = await readCa(dir).catch((e: unknown) => e);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_IDENTITY_ISSUE');
    expect((err as Error).message).toContain('ca.crt');
  });
});

describe('serialNumberHex', () => {
  /** A self-signed certificate with `serial`, as the dev CA builds one, read back by OpenSSL. */
  function parsedWithSerial(serial: string): X509Certificate {
    const keys = forge.pki.rsa.generateKeyPair(1024);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serial;
    cert.validity.notBefore = new Date(0);
    cert.validity.notAfter = new Date(86_400_000);
    cert.setSubject([{ name: 'commonName', value: 'serial test' }]);
    cert.setIssuer([{ name: 'commonName', value: 'serial test' }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    return new X509Certificate(forge.pki.certificateToPem(cert));
  }

  it('gives a 16-byte positive serial with a first byte of 0x01-0x7f for any random bytes', () => {
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]) {
      const random = Buffer.alloc(16, 0x00);
      random[0] = first;
      const hex = serialNumberHex(random);
      expect(hex).toHaveLength(32);
      const top = parseInt(hex.slice(0, 2), 16);
      expect(top).toBeGreaterThanOrEqual(1);
      expect(top).toBeLessThanOrEqual(0x7f);
      expect(hex.slice(2)).toBe('00'.repeat(15));
    }
  });

  it('makes certificates OpenSSL reads even from all-zero random bytes (a leading 0x00 does not parse)', () => {
    // node-forge drops one leading 0x00; a second one stays, and OpenSSL refuses it.
    expect(() => parsedWithSerial(`0000${'05'.repeat(14)}`)).toThrow(/illegal padding/);
    expect(() =>
      parsedWithSerial(serialNumberHex(Buffer.from(`0000${'05'.repeat(14)}`, 'hex'))),
    ).not.toThrow();
    const cert = parsedWithSerial(serialNumberHex(Buffer.alloc(16)));
    expect(cert.serialNumber).toBe(`01${'00'.repeat(15)}`);
  });
});
