import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { validate } from './helpers.js';

// istio adds the CORS filter (envoy.filters.http.cors) to every HTTP connection manager and
// route.go TranslateCORSPolicy puts http[].corsPolicy on the route; meshlet compiles the
// policy but its outbound pipeline never applies it, so the setting is warned (MESHLET0004).
describe('VirtualService corsPolicy', () => {
  it('warns (MESHLET0004) at each http[].corsPolicy, saying preflights go upstream', () => {
    const found = validate('VirtualService', {
      hosts: ['reviews'],
      http: [
        { match: [{ uri: { prefix: '/a' } }], route: [{ destination: { host: 'reviews' } }] },
        {
          corsPolicy: { allowOrigins: [{ exact: 'https://app.example.com' }], allowMethods: ['GET'] },
          route: [{ destination: { host: 'reviews' } }],
        },
      ],
    });
    expect(found.map((f) => [f.level, f.code, formatPath(f.path)])).toEqual([
      ['Warning', 'MESHLET0004', 'spec.http[1].corsPolicy'],
    ]);
    expect(found[0]?.message).toMatch(/preflight.*forwarded upstream/);
    expect(found[0]?.message).toMatch(/no Access-Control-\* headers/);
  });
});
