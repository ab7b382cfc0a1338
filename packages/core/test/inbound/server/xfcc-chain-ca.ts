import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { CertificateAuthority } from '../../../src/identity/dev-ca.js';
import { serialNumberHex } from '../../../src/identity/dev-ca.js';

/**
 * An intermediate CA signed by `root`, as a plugged-in Istio CA (cacerts: ca-cert.pem signed
 * by root-cert.pem) has it: `issueWorkloadCertificate` with it gives `certChainPem` = leaf +
 * this intermediate, `rootCertPem` = the root.
 */
export function intermediateCa(
  root: CertificateAuthority,
  commonName = 'mesh intermediate CA',
): CertificateAuthority {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const rootCert = forge.pki.certificateFromPem(root.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = serialNumberHex(randomBytes(16));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * 86_400_000);
  cert.setSubject([
    { name: 'organizationName', value: 'meshlet' },
    { name: 'commonName', value: commonName },
  ]);
  cert.setIssuer(rootCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(root.keyPem), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
  return Object.freeze({ certPem, keyPem: privateKey, chainPem: certPem, rootCertPem: root.rootCertPem });
}
