import { describe, expect, it } from 'vitest';
import { isValidReferer, sanitizedReferer } from '../../src/outbound/referer.js';

// Envoy's connection manager removes a request's `referer` when its value is not a valid RFC
// 7231 Referer (conn_manager_utility.cc mutateRequestHeaders, "Sanitize referer field if
// exists"; on by default since Envoy 1.22, relative references accepted since 1.27,
// envoy.reloadable_features.http_allow_partial_urls_in_referer). The validity test is
// http/utility.cc isValidRefererValue: an absolute URL as http_parser parses one (non-strict, as
// Envoy builds it) without a fragment or userinfo, else a relative reference whose characters
// are those of a query or fragment and whose first segment has no ':'. Istio's proxy keeps
// referer as an inline header, whose repeats its header map joins with `,` as it reads them
// (header_map_impl.cc insertByKey), so several referers are judged as one joined value.

describe('isValidReferer, Envoy’s own cases (test/common/http/utility_test.cc)', () => {
  it.each([
    'http://www.example.com',
    'http://www.example.com/foo?bar=xyz',
    '/resource.html',
    'resource.html',
    'foo/bar/resource.html',
  ])('keeps %j', (value) => {
    expect(isValidReferer(value)).toBe(true);
  });

  it.each([
    'mal  formed/path/resource.html',
    'htp:/www.malformed.com',
    'http://www.example.com/?foo=bar#fragment',
    'foo=bar#fragment',
  ])('removes %j', (value) => {
    expect(isValidReferer(value)).toBe(false);
  });
});

describe('isValidReferer, absolute URLs as http_parser reads them', () => {
  it.each([
    ['HTTPS://Example.COM:8443/a/b?x=1&y=2', 'any case of scheme and host, a port'],
    ['http://exa_mple.com/', 'an underscore in the host (the non-strict parser)'],
    ['http://[::1]:8080/x', 'an IPv6 literal'],
    ['http://example.com/#', 'an empty fragment, which the parser never records'],
    ['http://example.com/?q#', 'an empty fragment after a query'],
    ['http://example.com/##', 'two `#` and nothing after them'],
    ['http://example.com/?a?b', 'a `?` inside the query'],
    ['https://@example.com/', 'an `@` with no userinfo before it'],
    ['http://example.com/"<>\\{}|^`', 'path characters outside RFC 3986 the parser accepts'],
    ['http://example.com/\u00fc', 'a byte above 0x7f in the path'],
    ['http://example.com/a\tb', 'a tab in the path (the non-strict parser)'],
    ['http://example.com?q', 'a query right after the host'],
    ['', 'an empty value (no absolute URL, and an empty relative reference)'],
    ['*', 'a lone asterisk'],
  ])('keeps %j: %s', (value) => {
    expect(isValidReferer(value)).toBe(true);
  });

  it.each([
    ['https://user:pass@example.com/', 'userinfo'],
    ['https://user@example.com/', 'userinfo without a password'],
    ['http://example.com/a#x', 'a fragment'],
    ['http://example.com/##x', 'a fragment after two `#`'],
    ['http:///path', 'a scheme without a host'],
    ['http://', 'nothing after the scheme'],
    ['http://user@', 'userinfo and no host'],
    ['http://a@b@c/', 'two `@`'],
    ['http://a@@b/', 'two `@` in a row'],
    ['http://example.com:/', 'a colon and no port'],
    ['http://:80/', 'a port and no host'],
    ['http://[::1]x/', 'something other than a port after an IPv6 literal'],
    ['http://[::1]80/', 'a port without its colon after an IPv6 literal'],
    ['http://example.com:99999/', 'a port above 65535'],
    ['http://example.com:8x/', 'a port that is not a number'],
    ['http://[::g]/', 'a bracketed host that is not an IPv6 address'],
    ['http://[::1/', 'an unclosed bracket'],
    ['http://exa mple.com/', 'a space in the host'],
    ['http://example.com/a b', 'a space in the path'],
    ['http://exa%mple.com/', 'a `%` in the host'],
    ['about:blank', 'a scheme without `//` (Envoy’s noted limitation)'],
    ['android-app://com.google.android.gm/', 'a scheme with `-`, which the parser does not take'],
    ['h2://example.com/', 'a scheme with a digit'],
    ['http:example.com', 'a scheme and one slash less than two'],
    ['http://example.com/\u007f', 'DEL'],
  ])('removes %j: %s', (value) => {
    expect(isValidReferer(value)).toBe(false);
  });
});

describe('isValidReferer, relative references', () => {
  it.each([
    ['/a/b:c', 'a colon after the first slash'],
    ["/!$&'()*+,;=-._~%20@", 'every sub-delimiter, unreserved mark, `%` and `@`'],
    ['a/b?c=d?e', 'a query, `?` inside it'],
    ['../up', 'dot segments'],
  ])('keeps %j: %s', (value) => {
    expect(isValidReferer(value)).toBe(true);
  });

  it.each([
    ['a:b/c', 'a colon in the first segment'],
    ['/a#b', 'a fragment'],
    ['/a b', 'a space'],
    ['/"quoted"', 'a double quote'],
    ['/\u00fc', 'a byte above 0x7f (accepted only in an absolute URL)'],
    ['/a\tb', 'a tab'],
    ['/[x]', 'brackets'],
  ])('removes %j: %s', (value) => {
    expect(isValidReferer(value)).toBe(false);
  });
});

describe('sanitizedReferer', () => {
  it('keeps one valid value, also as a one-element list, and removes one invalid', () => {
    expect(sanitizedReferer('http://a.example/')).toBe('http://a.example/');
    expect(sanitizedReferer(['http://a.example/'])).toBe('http://a.example/');
    expect(sanitizedReferer('http://a.example/#top')).toBeNull();
  });

  it('joins repeated values with `,` and keeps the joined value when it is valid', () => {
    expect(sanitizedReferer(['http://a.example/', 'http://b.example/'])).toBe(
      'http://a.example/,http://b.example/',
    );
    expect(sanitizedReferer(['/a', '/b', '/c'])).toBe('/a,/b,/c');
  });

  it('removes repeated values whose joined value is invalid', () => {
    expect(sanitizedReferer(['http://a.example/#x', 'http://b.example/'])).toBeNull();
    expect(sanitizedReferer(['a:b', '/c'])).toBeNull();
  });
});
