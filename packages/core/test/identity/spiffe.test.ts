import { describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import {
  acceptedTrustDomains,
  formatSpiffeId,
  parseSpiffeId,
  peerFromCertificate,
  uriSans,
} from '../../src/identity/spiffe.js';

describe('parseSpiffeId', () => {
  it.each([
    [
      'spiffe://cluster.local/ns/foo/sa/httpbin',
      {
        principal: 'cluster.local/ns/foo/sa/httpbin',
        trustDomain: 'cluster.local',
        namespace: 'foo',
        serviceAccount: 'httpbin',
      },
    ],
    [
      'spiffe://example.org/ns/default/sa/bookinfo-productpage',
      {
        principal: 'example.org/ns/default/sa/bookinfo-productpage',
        trustDomain: 'example.org',
        namespace: 'default',
        serviceAccount: 'bookinfo-productpage',
      },
    ],
    // Not Istio's workload shape: Envoy still matches the URI, so the principal survives.
    [
      'spiffe://example.org/workload/x',
      { principal: 'example.org/workload/x', trustDomain: 'example.org', namespace: '', serviceAccount: '' },
    ],
    [
      'spiffe://cluster.local/ns//sa/x',
      {
        principal: 'cluster.local/ns//sa/x',
        trustDomain: 'cluster.local',
        namespace: '',
        serviceAccount: '',
      },
    ],
  ])('parses %s', (uri, expected) => {
    expect(parseSpiffeId(uri)).toEqual(expected);
  });

  it.each([
    'https://cluster.local/ns/foo/sa/x',
    'spiffe:///ns/foo/sa/x',
    'spiffe://cluster.local/ns/foo/sa/x?y',
    'cluster.local/ns/foo/sa/x',
  ])('rejects %s', (uri) => {
    expect(parseSpiffeId(uri)).toBeNull();
  });

  it('round-trips formatSpiffeId', () => {
    const id = formatSpiffeId({ trustDomain: 'td.io', namespace: 'shop', serviceAccount: 'cart' });
    expect(id).toBe('spiffe://td.io/ns/shop/sa/cart');
    expect(parseSpiffeId(id)).toMatchObject({ namespace: 'shop', serviceAccount: 'cart' });
  });
});

describe('uriSans', () => {
  it.each([
    ['URI:spiffe://cluster.local/ns/a/sa/b', ['spiffe://cluster.local/ns/a/sa/b']],
    [
      'DNS:httpbin.foo.svc, URI:spiffe://cluster.local/ns/a/sa/b, IP Address:10.0.0.1',
      ['spiffe://cluster.local/ns/a/sa/b'],
    ],
    ['URI:spiffe://a/b, URI:spiffe://c/d', ['spiffe://a/b', 'spiffe://c/d']],
    // node JSON-quotes values holding separators, so a crafted SAN cannot smuggle a second entry.
    [
      'URI:"spiffe://evil/x, URI:spiffe://cluster.local/ns/a/sa/b"',
      ['spiffe://evil/x, URI:spiffe://cluster.local/ns/a/sa/b'],
    ],
    ['DNS:a', []],
    ['', []],
  ])('reads the URI entries of %j', (san, expected) => {
    expect(uriSans(san)).toEqual(expected);
  });
});

describe('peerFromCertificate', () => {
  const trusted = acceptedTrustDomains({ ...DEFAULT_MESH_CONFIG, trustDomainAliases: ['Old.Example.org'] });

  it.each([
    ['the local trust domain', 'URI:spiffe://cluster.local/ns/a/sa/b', 'cluster.local/ns/a/sa/b'],
    ['an alias as written', 'URI:spiffe://Old.Example.org/ns/a/sa/b', 'Old.Example.org/ns/a/sa/b'],
    // Envoy's `spiffe://<td>/` prefix matchers are case-sensitive (no ignore_case), and istiod
    // passes the alias as written (plugin/authn util.go TrustDomainsForValidation).
    ['an alias in another case', 'URI:spiffe://old.example.org/ns/a/sa/b', null],
    ['another trust domain', 'URI:spiffe://evil.org/ns/a/sa/b', null],
    ['a certificate without a SPIFFE URI', 'DNS:httpbin.foo.svc', null],
    [
      'a quoted SAN smuggling a trusted ID',
      'URI:"spiffe://evil.org/x, URI:spiffe://cluster.local/ns/a/sa/b"',
      null,
    ],
  ])('accepts or refuses %s', (_name, san, principal) => {
    expect(peerFromCertificate({ subjectaltname: san }, trusted)?.principal ?? null).toBe(principal);
  });
});
