import { describe, expect, it } from 'vitest';
import { compileMatch } from '../../src/compile/match.js';
import type { HTTPMatchRequestIn } from '../../src/compile/spec-types.js';
import { request } from './helpers.js';

// istio route.go TranslateRouteMatch: a withoutHeaders entry that canBeConvertedToPresentMatch
// ({} or regex "*") is Envoy present_match + invert_match, without treat_missing_header_as_empty,
// so it matches exactly when the header is absent.
describe('withoutHeaders presence matchers', () => {
  it.each<[string, HTTPMatchRequestIn, Parameters<typeof request>[0], boolean]>([
    ['{} matches an absent header', { withoutHeaders: { 'x-debug': {} } }, { headers: {} }, true],
    [
      '{} rejects a present header',
      { withoutHeaders: { 'x-debug': {} } },
      { headers: { 'x-debug': '1' } },
      false,
    ],
    [
      '{} rejects an empty header',
      { withoutHeaders: { 'x-debug': {} } },
      { headers: { 'x-debug': '' } },
      false,
    ],
    [
      'regex "*" matches an absent header',
      { withoutHeaders: { 'x-debug': { regex: '*' } } },
      { headers: {} },
      true,
    ],
    [
      'regex "*" rejects a present header',
      { withoutHeaders: { 'x-debug': { regex: '*' } } },
      { headers: { 'x-debug': 'y' } },
      false,
    ],
  ])('%s', (_, match, req, want) => {
    expect(compileMatch(match).test(request(req))).toBe(want);
  });
});

// envoy http/utility.cc QueryParamsMulti::parseQueryString -> parseParameters(decode_params=false):
// split on '&', name/value at the first '=', a bare name has value "", nothing is %-decoded
// and '+' stays '+'; route matching takes the first value (getFirstValue).
describe('queryParams match the raw query value', () => {
  it.each<[string, HTTPMatchRequestIn, string, boolean]>([
    [
      '%20 is not decoded (decoded form fails)',
      { queryParams: { q: { exact: 'a b' } } },
      '/q?q=a%20b',
      false,
    ],
    ['%20 is not decoded (raw form matches)', { queryParams: { q: { exact: 'a%20b' } } }, '/q?q=a%20b', true],
    ['+ is not a space', { queryParams: { q: { exact: 'a b' } } }, '/q?q=a+b', false],
    ['+ stays +', { queryParams: { q: { exact: 'a+b' } } }, '/q?q=a+b', true],
    ['the name is not decoded either', { queryParams: { 'a b': { exact: '1' } } }, '/q?a%20b=1', false],
    ['value keeps later "="', { queryParams: { q: { exact: 'a=b' } } }, '/q?q=a=b', true],
    ['bare name has value ""', { queryParams: { q: { exact: '' } } }, '/q?x=1&q', true],
    ['first value wins', { queryParams: { q: { exact: '1' } } }, '/q?q=1&q=2', true],
    ['second value is not looked at', { queryParams: { q: { exact: '2' } } }, '/q?q=1&q=2', false],
    ['presence {} on a bare name', { queryParams: { q: {} } }, '/q?q', true],
    ['presence {} on an absent name', { queryParams: { q: {} } }, '/q?x=1', false],
  ])('%s', (_, match, path, want) => {
    expect(compileMatch(match).test(request({ path }))).toBe(want);
  });
});
