import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { sharedCa } from '../../identity/support.js';
import { certSourceFor, httpbin, planFor, startServer, tlsGet, type ClientTls } from './support.js';

// The XFCC Subject is the client certificate's subject as Envoy prints it
// (source/common/tls/utility.cc getSubjectFromCertificate: X509_NAME_print_ex with
// XN_FLAG_RFC2253: last RDN first, `,` between RDNs, RFC 2253 escapes, bytes past ASCII as
// \XX) between two quotes, nothing escaped again (conn_manager_utility.cc
// mutateXfccRequestHeader). `openssl x509 -nameopt RFC2253` prints the same.

/** A client certificate of the mesh CA with `subject` and a SPIFFE ID. */
async function clientWithSubject(subject: { shortName: string; value: string }[]): Promise<ClientTls> {
  const ca = await sharedCa();
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  // forge reads valueTagClass as the value's ASN.1 type (UTF8String); its typings call it a Class.
  const utf8 = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class;
  cert.setSubject(subject.map((a) => ({ ...a, valueTagClass: utf8 })));
  cert.setIssuer(forge.pki.certificateFromPem(ca.certPem).subject.attributes);
  cert.setExtensions([
    { name: 'extKeyUsage', clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 6, value: 'spiffe://cluster.local/ns/bar/sa/sleep' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: forge.pki.certificateToPem(cert),
    ca: ca.rootCertPem,
  };
}

describe('XFCC Subject', () => {
  it('is the RFC 2253 subject, escaped once, with bytes past ASCII as \\XX', async () => {
    const plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const client = await clientWithSubject([
      { shortName: 'C', value: 'US' },
      { shortName: 'O', value: 'Acme, Inc.' },
      { shortName: 'OU', value: 'a"b\\c' },
      { shortName: 'CN', value: 'José <x>; #1 ' },
    ]);
    const reply = await tlsGet(port, client);
    expect(reply.status).toBe(200);
    const subject = /;Subject="(.*)";URI=/.exec(reply.body.xfcc ?? '')?.[1];
    expect(subject).toBe('CN=Jos\\C3\\A9 \\<x\\>\\; #1\\ ,OU=a\\"b\\\\c,O=Acme\\, Inc.,C=US');
  });
});
