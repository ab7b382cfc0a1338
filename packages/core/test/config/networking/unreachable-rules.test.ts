import { describe, expect, it } from 'vitest';
import { validate } from './helpers.js';

const dest = [{ destination: { host: 'sample.foo.svc.cluster.local' } }];
const analysis = (http: unknown[]) =>
  validate('VirtualService', { hosts: ['sample.baz.svc.cluster.local'], http }).filter(
    (f) => f.code === 'IST0130' || f.code === 'IST0131',
  );

describe('VirtualService unreachable-rule analysis', () => {
  it('reports nothing when every rule can match', () => {
    expect(
      analysis([
        { match: [{ uri: { prefix: '/a' } }], route: dest },
        { match: [{ uri: { prefix: '/b' } }], route: dest },
        { route: dest },
      ]),
    ).toEqual([]);
  });

  it('warns IST0130 when a rule follows a catch-all rule', () => {
    expect(
      analysis([{ route: dest }, { route: dest }]).map((f) => [f.code, f.level, f.path, f.message]),
    ).toEqual([
      [
        'IST0130',
        'Warning',
        ['spec', 'http', 1],
        'VirtualService rule #1 not used (only the last rule can have no matches).',
      ],
    ]);
  });

  it('warns IST0130 for a matched rule after a catch-all rule', () => {
    expect(
      analysis([{ route: dest }, { match: [{ uri: { exact: '/a' } }], route: dest }]).map((f) => f.message),
    ).toEqual(['VirtualService rule #1 not used (route without matches defined before).']);
  });

  it('reports IST0131 per duplicate match and IST0130 when all matches are duplicates', () => {
    const found = analysis([
      { name: 'first', match: [{ uri: { exact: '/a' }, name: 'x' }], route: dest },
      { match: [{ name: 'y', uri: { exact: '/a' } }], route: dest },
    ]);
    expect(found.map((f) => [f.code, f.level, f.path, f.message])).toEqual([
      [
        'IST0131',
        'Info',
        ['spec', 'http', 1, 'match', 0],
        'VirtualService rule #1 match "y" is not used (duplicate/overlapping match in rule "first").',
      ],
      [
        'IST0130',
        'Warning',
        ['spec', 'http', 1],
        'VirtualService rule #1 not used (all matches used by prior rules).',
      ],
    ]);
  });

  it('reports IST0131 for a prefix shadowed by a shorter earlier prefix with the same method', () => {
    const found = analysis([
      {
        name: 'send product to sample.foo',
        match: [{ uri: { prefix: '/api/v1/product' }, method: { exact: 'GET' } }],
        route: dest,
      },
      {
        name: 'send products to sample.bar',
        match: [{ uri: { prefix: '/api/v1/products' }, method: { exact: 'GET' } }],
        route: dest,
      },
    ]);
    expect(found.map((f) => [f.code, f.path, f.message])).toEqual([
      [
        'IST0131',
        ['spec', 'http', 1, 'match', 0],
        'VirtualService rule "send products to sample.bar" match #0 of prefix /api/v1/products is not used (duplicate/overlapping match in rule #0 of prefix /api/v1/product on "send product to sample.foo").',
      ],
    ]);
  });

  it('does not report a longer prefix when the methods differ', () => {
    expect(
      analysis([
        { match: [{ uri: { prefix: '/api/v1/prod' }, method: { exact: 'GET' } }], route: dest },
        { match: [{ uri: { prefix: '/api/v1/products' }, method: { exact: 'POST' } }], route: dest },
      ]),
    ).toEqual([]);
  });

  it('applies the duplicate rule to tcp routes too', () => {
    const found = validate('VirtualService', {
      hosts: ['a'],
      tcp: [
        { match: [{ port: 1 }], route: dest },
        { match: [{ port: 1 }], route: dest },
      ],
    }).filter((f) => f.code === 'IST0130');
    expect(found.map((f) => f.path)).toEqual([['spec', 'tcp', 1]]);
  });
});
