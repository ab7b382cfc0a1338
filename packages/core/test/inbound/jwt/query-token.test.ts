import { describe, expect, it } from 'vitest';
import { withoutQueryParams } from '../../../src/inbound/jwt/query-token.js';

// envoy jwt_authn extractor.cc JwtParamLocation::removeJwt: every occurrence of the
// parameter goes, the others stay.
describe('withoutQueryParams', () => {
  it.each([
    ['/a?access_token=t', '/a'],
    ['/a?x=1&access_token=t&y=%20z', '/a?x=1&y=%20z'],
    ['/a?access_token=t&access_token=u&x', '/a?x'],
    ['/a?access%5Ftoken=t&x=1', '/a?x=1'],
    ['/a?access_token_2=t', '/a?access_token_2=t'],
    ['/a', '/a'],
    ['/a?', '/a'],
  ])('%s → %s', (url, want) => {
    expect(withoutQueryParams(url, ['access_token'])).toBe(want);
  });
});
