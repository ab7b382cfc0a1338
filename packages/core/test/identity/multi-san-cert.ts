import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { CertificateAuthority } from '../../src/identity/dev-ca.js';
import { serialNumberHex } from '../../src/identity/dev-ca.js';

/**
 * A client certificate from `ca` whose subjectAltName lists `uris` (URI SANs, in this order)
 * and then `dns` names: the shape `issueWorkloadCertificate` never makes (one SPIFFE ID),
 * but a CA may sign and Envoy's validation context accepts when one URI SAN matches.
 */
export function certWithSans(
  ca: CertificateAuthority,
  uris: readonly string[],
  dns: readonly string[] = [],
): { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = serialNumberHex(randomBytes(16));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      critical: true,
      altNames: [...uris.map((value) => ({ type: 6, value })), ...dns.map((value) => ({ type: 2, value }))],
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}
