import { describe, expect, it } from 'vitest';
import type { ConsistentHash } from '../../../src/compile/traffic-policy.js';
import { hashKeyOf } from '../../../src/outbound/hash-key.js';

const RING: ConsistentHash['ring'] = { kind: 'ringHash', minimumRingSize: 1024 };
const cookie: ConsistentHash = {
  key: { kind: 'cookie', name: 'user', path: null, ttlMs: null, attributes: [] },
  ring: RING,
};
const query: ConsistentHash = { key: { kind: 'queryParameter', name: 'user' }, ring: RING };
const header: ConsistentHash = { key: { kind: 'header', name: 'x-user' }, ring: RING };

// What Envoy hashes for each hash policy (envoy source/common/http/hash_policy.cc, with
// Http::Utility forEachCookie / QueryParamsMulti::parseQueryString in source/common/http/utility.cc).
describe('hash key of a request', () => {
  it.each([
    ['user=alice', 'alice'],
    ['a=1; user=alice; b=2', 'alice'],
    // Cookie values may be wrapped in double quotes (RFC 6265 §4.1.1); Envoy strips them.
    ['user="alice"', 'alice'],
    // Only leading spaces go: the value is the rest of the cookie, as it is.
    ['user=alice ; b=2', 'alice '],
    // The first cookie of that name wins.
    ['user=alice; user=bob', 'alice'],
  ])('takes the cookie from %j as %j', (line, want) => {
    expect(hashKeyOf(cookie, { cookie: line }, '/', () => 'sleep')).toBe(want);
  });

  it('reads every cookie header in order', () => {
    expect(hashKeyOf(cookie, { cookie: ['a=1', 'user=bob'] }, '/', () => 'sleep')).toBe('bob');
  });

  it('has no key for an empty or missing cookie (Envoy then picks at random)', () => {
    expect(hashKeyOf(cookie, { cookie: 'user=' }, '/', () => 'sleep')).toBeNull();
    expect(hashKeyOf(cookie, { cookie: 'user=""' }, '/', () => 'sleep')).toBeNull();
    expect(hashKeyOf(cookie, { cookie: 'other=1' }, '/', () => 'sleep')).toBeNull();
    expect(hashKeyOf(cookie, {}, '/', () => 'sleep')).toBeNull();
  });

  it.each([
    ['/p?user=alice', 'alice'],
    ['/p?x=1&user=alice&user=bob', 'alice'],
    // Envoy hashes the raw query text: no percent- or plus-decoding.
    ['/p?user=a%20b', 'a%20b'],
    ['/p?user=a+b', 'a+b'],
    ['/p?user=a=b', 'a=b'],
    ['/p?user', ''],
    ['/p?user=', ''],
  ])('takes the query parameter from %j as %j', (path, want) => {
    expect(hashKeyOf(query, {}, path, () => 'sleep')).toBe(want);
  });

  it('has no key without that query parameter', () => {
    expect(hashKeyOf(query, {}, '/p', () => 'sleep')).toBeNull();
    expect(hashKeyOf(query, {}, '/p?users=1', () => 'sleep')).toBeNull();
  });

  it('hashes a present header even when empty, and nothing when absent', () => {
    expect(hashKeyOf(header, { 'x-user': '' }, '/', () => 'sleep')).toBe('');
    expect(hashKeyOf(header, { 'x-user': 'alice' }, '/', () => 'sleep')).toBe('alice');
    expect(hashKeyOf(header, {}, '/', () => 'sleep')).toBeNull();
  });
});
