import { describe, expect, it } from 'vitest';
import { compileMatch } from '../../src/compile/match.js';
import { compileRetries } from '../../src/compile/retry.js';
import { compileFault } from '../../src/compile/route-policies.js';
import type { HTTPMatchRequestIn } from '../../src/compile/spec-types.js';
import { request } from './helpers.js';

describe('compileMatch', () => {
  it.each<[string, HTTPMatchRequestIn, Parameters<typeof request>[0], boolean]>([
    ['exact uri ignores the query', { uri: { exact: '/a' } }, { path: '/a?x=1' }, true],
    ['prefix is a raw string prefix', { uri: { prefix: '/foo' } }, { path: '/foobar' }, true],
    ['regex must match the whole path', { uri: { regex: '/a/\\d+' } }, { path: '/a/12/b' }, false],
    ['regex full match succeeds', { uri: { regex: '/a/\\d+' } }, { path: '/a/12' }, true],
    ['ignoreUriCase on prefix', { uri: { prefix: '/API' }, ignoreUriCase: true }, { path: '/api/x' }, true],
    ['header presence {} needs the header', { headers: { 'x-a': {} } }, { headers: {} }, false],
    ['header presence {} with any value', { headers: { 'x-a': {} } }, { headers: { 'x-a': '' } }, true],
    ['absent header fails a value match', { headers: { 'x-a': { exact: '' } } }, { headers: {} }, false],
    [
      'withoutHeaders treats missing as empty',
      { withoutHeaders: { 'x-a': { exact: 'x' } } },
      { headers: {} },
      true,
    ],
    [
      'withoutHeaders missing header vs exact ""',
      { withoutHeaders: { 'x-a': { exact: '' } } },
      { headers: {} },
      false,
    ],
    [
      'withoutHeaders rejects the value',
      { withoutHeaders: { 'x-a': { exact: 'x' } } },
      { headers: { 'x-a': 'x' } },
      false,
    ],
    [
      'query regex is a full match',
      { queryParams: { id: { regex: '\\d+$' } } },
      { path: '/?id=a123' },
      false,
    ],
    ['query regex matches digits', { queryParams: { id: { regex: '\\d+$' } } }, { path: '/?id=123' }, true],
    [
      'method and scheme are ANDed',
      { method: { exact: 'POST' }, scheme: { exact: 'http' } },
      { method: 'GET' },
      false,
    ],
    [
      'authority includes the port',
      { authority: { exact: 'reviews' } },
      { authority: 'reviews:9080' },
      false,
    ],
    [
      'repeated headers are joined with a comma',
      { headers: { x: { exact: 'a,b' } } },
      { headers: { x: ['a', 'b'] } },
      true,
    ],
    [
      'JWT claim match',
      { headers: { '@request.auth.claims.groups': { exact: 'admin' } } },
      { claims: { groups: ['dev', 'admin'] } },
      true,
    ],
  ])('%s', (_, match, req, want) => {
    const m = compileMatch(match);
    expect(m.test(request(req))).toBe(want);
    expect(m.describe()).not.toBe('');
  });
});

describe('compileRetries', () => {
  it('turns numeric retryOn items into retriable status codes', () => {
    const r = compileRetries({ attempts: 3, retryOn: '5xx,503,gateway-error', perTryTimeout: '2s' });
    expect(r).toMatchObject({
      retries: 3,
      retryOn: ['5xx', 'gateway-error', 'retriable-status-codes'],
      retriableStatusCodes: [503],
      perTryTimeoutMs: 2000,
    });
  });
  it('disables retries when attempts is 0', () => {
    expect(compileRetries({ attempts: 0 })).toBeNull();
  });
  it('keeps the default retryOn and 25 ms backoff when only attempts is set', () => {
    expect(compileRetries({ attempts: 5 })).toMatchObject({
      retries: 5,
      retryOn: expect.arrayContaining(['connect-failure', 'retriable-status-codes']) as unknown,
      backoffBaseMs: 25,
      backoffMaxMs: 250,
    });
  });
  it('uses the backoff as base interval with a 10x max', () => {
    expect(compileRetries({ attempts: 1, backoff: '100ms', retryIgnorePreviousHosts: false })).toMatchObject({
      backoffBaseMs: 100,
      backoffMaxMs: 1000,
      previousHosts: false,
    });
  });
});

describe('compileFault', () => {
  it('treats a missing percentage as 0%', () => {
    expect(compileFault({ delay: { fixedDelay: '5s' }, abort: { httpStatus: 503 } })).toEqual({
      delay: { ms: 5000, percent: 0 },
      abort: { httpStatus: 503, grpcStatus: null, percent: 0 },
    });
  });
  it('uses the deprecated integer percent only when percentage is absent', () => {
    expect(compileFault({ delay: { fixedDelay: '1s', percent: 30 } })?.delay?.percent).toBe(30);
    expect(
      compileFault({ delay: { fixedDelay: '1s', percent: 30, percentage: { value: 5 } } })?.delay?.percent,
    ).toBe(5);
  });
});
