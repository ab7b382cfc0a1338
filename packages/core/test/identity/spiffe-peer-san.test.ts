import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { peerFromCertificate } from '../../src/identity/spiffe.js';
import { certWithSans } from './multi-san-cert.js';
import { sharedCa } from './support.js';

const MESH = new Set(['cluster.local']);

async function peerOf(uris: readonly string[]) {
  const { cert } = certWithSans(await sharedCa(), uris);
  return peerFromCertificate({ subjectaltname: new X509Certificate(cert).subjectAltName }, MESH);
}

/**
 * Istio's inbound validation context accepts a client certificate when any SAN has the
 * prefix `spiffe://<trust domain>/` of an accepted trust domain (pilot/pkg/security/model
 * authentication.go ApplyToCommonTLSContext, `AppendURIPrefixToTrustDomain`; Envoy checks
 * every SAN). The peer is the SPIFFE ID that passed.
 */
describe('peerFromCertificate with several URI SANs', () => {
  it('takes the first SPIFFE ID of an accepted trust domain, past one of another trust domain', async () => {
    expect(
      await peerOf(['spiffe://other.example/ns/x/sa/y', 'spiffe://cluster.local/ns/foo/sa/bar']),
    ).toEqual({
      principal: 'cluster.local/ns/foo/sa/bar',
      trustDomain: 'cluster.local',
      namespace: 'foo',
      serviceAccount: 'bar',
    });
  });

  it('accepts no SPIFFE ID without the `/` after its trust domain, as the prefix matcher does not', async () => {
    expect(await peerOf(['spiffe://cluster.local'])).toBeNull();
  });
});
