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

  it('matches the trust domain case-sensitively, as the prefix StringMatcher does (ignore_case unset)', async () => {
    // istiod passes trustDomain and its aliases as written (plugin/authn util.go
    // TrustDomainsForValidation) into prefix matchers without ignore_case.
    expect(await peerOf(['spiffe://Cluster.Local/ns/foo/sa/bar'])).toBeNull();
    const upper = peerFromCertificate(
      { subjectaltname: 'URI:spiffe://Cluster.Local/ns/foo/sa/bar' },
      new Set(['Cluster.Local']),
    );
    expect(upper?.trustDomain).toBe('Cluster.Local');
  });

  it('accepts no SPIFFE ID without the `/` after its trust domain, as the prefix matcher does not', async () => {
    expect(await peerOf(['spiffe://cluster.local'])).toBeNull();
  });
});
