import forge from 'node-forge';

export interface TestPki {
  readonly ca: string;
  /** Issue a server certificate for `dns` names and an optional SPIFFE URI SAN. */
  issue(options: { dns?: readonly string[]; ip?: readonly string[]; uri?: string }): {
    cert: string;
    key: string;
  };
}

function serial(): string {
  return forge.util.bytesToHex(forge.random.getBytesSync(8)).replace(/^[89a-f]/, '1');
}

/** A throwaway CA made with node-forge (no dependency on `meshlet certs`). */
export function createTestPki(): TestPki {
  const caKeys = forge.pki.rsa.generateKeyPair(2048);
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = new Date(Date.now() - 60_000);
  caCert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const caName = [{ name: 'commonName', value: 'meshlet test CA' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  return {
    ca: forge.pki.certificateToPem(caCert),
    issue: ({ dns = [], ip = [], uri }) => {
      const keys = forge.pki.rsa.generateKeyPair(2048);
      const cert = forge.pki.createCertificate();
      cert.publicKey = keys.publicKey;
      cert.serialNumber = serial();
      cert.validity.notBefore = new Date(Date.now() - 60_000);
      cert.validity.notAfter = new Date(Date.now() + 86_400_000);
      cert.setSubject([{ name: 'commonName', value: dns[0] ?? 'workload' }]);
      cert.setIssuer(caCert.subject.attributes);
      const altNames: { type: number; value?: string; ip?: string }[] = [
        ...dns.map((value) => ({ type: 2, value })),
        ...ip.map((value) => ({ type: 7, ip: value })),
        ...(uri !== undefined ? [{ type: 6, value: uri }] : []),
      ];
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames },
      ]);
      cert.sign(caKeys.privateKey, forge.md.sha256.create());
      return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
    },
  };
}
