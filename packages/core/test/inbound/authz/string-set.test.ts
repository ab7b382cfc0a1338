import { describe, expect, it } from 'vitest';
import { headerString, istioString } from '../../../src/inbound/authz/string-match.js';
import { AnyOfStrings, headerPattern, istioPattern } from '../../../src/inbound/authz/string-set.js';
import { pathPattern } from '../../../src/inbound/authz/operation-match.js';

// AnyOfStrings must give, for every value, the answer of testing each pattern in turn
// with Istio's per-value matchers (istio authz/matcher/string.go, header.go).
const PATTERNS = ['/admin', '/admin/*', '*/info', '*', '/a*', '*.json', '', 'GET', '/'];
const VALUES = [
  '',
  '/',
  '/admin',
  '/admin/',
  '/admin/x',
  '/adminx',
  '/x/info',
  '/info',
  '/a',
  '/b.json',
  'GET',
  'get',
  '*',
];

function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++)
    out.push(items.filter((_, k) => (mask & (1 << k)) !== 0));
  return out;
}

describe('AnyOfStrings', () => {
  it('answers as Istio string values tested one by one, for every subset of patterns', () => {
    for (const patterns of subsets(PATTERNS)) {
      const set = new AnyOfStrings(patterns.map((p) => istioPattern(p)));
      for (const v of VALUES)
        expect(set.matches(v), `${JSON.stringify(patterns)} on ${JSON.stringify(v)}`).toBe(
          patterns.some((p) => istioString(p)(v)),
        );
    }
  });

  it('treats a header or method `*` as present (an empty value matches), unlike a string `*`', () => {
    expect(new AnyOfStrings([headerPattern('*')]).matches('')).toBe(true);
    expect(new AnyOfStrings([istioPattern('*')]).matches('')).toBe(false);
    for (const patterns of subsets(['*', 'GET', 'P*', '*T'])) {
      const set = new AnyOfStrings(patterns.map(headerPattern));
      for (const v of ['', 'GET', 'POST', 'PUT', 'get', 'DELETE'])
        expect(set.matches(v)).toBe(patterns.some((p) => headerString(p)(v)));
    }
  });

  it('lower-cases host patterns and keeps the answer for many exact values (the Set path)', () => {
    const hosts = Array.from({ length: 20 }, (_, k) => `Svc-${k}.Example.COM`);
    const set = new AnyOfStrings(hosts.map((h) => istioPattern(h, true)));
    expect(set.matches('svc-7.example.com')).toBe(true);
    expect(set.matches('svc-19.example.com')).toBe(true);
    expect(set.matches('svc-20.example.com')).toBe(false);
    expect(set.matches('svc-7.example.com:8080')).toBe(false);
  });

  it('runs path templates beside literal values', () => {
    const set = new AnyOfStrings(['/exact', '/api/{*}/items', '/files/{**}'].map(pathPattern));
    expect(set.matches('/exact')).toBe(true);
    expect(set.matches('/api/v1/items')).toBe(true);
    expect(set.matches('/api/v1/v2/items')).toBe(false);
    expect(set.matches('/files/a/b/c')).toBe(true);
    expect(set.matches('/other')).toBe(false);
  });
});
