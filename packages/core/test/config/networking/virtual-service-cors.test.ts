import { describe, expect, it } from 'vitest';
import { validate } from './helpers.js';

// meshlet's outbound pipeline applies http[].corsPolicy as Envoy's CORS filter does
// (test/outbound/pipeline/cors.test.ts), so validation no longer warns it as unapplied.
describe('VirtualService corsPolicy', () => {
  it('is accepted without an "unsupported" warning', () => {
    const found = validate('VirtualService', {
      hosts: ['reviews'],
      http: [
        {
          corsPolicy: { allowOrigins: [{ exact: 'https://app.example.com' }], allowMethods: ['GET'] },
          route: [{ destination: { host: 'reviews' } }],
        },
      ],
    });
    expect(found).toEqual([]);
  });

  it('still rejects an allowOrigins entry with no match type', () => {
    const found = validate('VirtualService', {
      hosts: ['reviews'],
      http: [{ corsPolicy: { allowOrigins: [{}] }, route: [{ destination: { host: 'reviews' } }] }],
    });
    expect(found.map((f) => [f.level, f.message])).toEqual([
      ['Error', "'' is not a valid match type for CORS allow origins"],
    ]);
  });
});
