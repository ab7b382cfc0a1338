import { describe, expect, it } from 'vitest';
import { headerHash, keyHash, stringsHash } from '../../../src/outbound/upstream/hash.js';
import { hash64ToBigInt } from '../../../src/outbound/upstream/xxhash64.js';

describe('request hash (envoy source/common/http/hash_policy.cc)', () => {
  it('hashes one key with xxHash64, seed 0', () => {
    expect(hash64ToBigInt(keyHash('foo'))).toBe(3728699739546630719n);
    expect(hash64ToBigInt(keyHash(''))).toBe(0xef46db3751d8e999n);
  });

  it('chains several strings, each hash seeding the next (envoy hash_test.cc xxHashWithVector)', () => {
    expect(hash64ToBigInt(stringsHash(['foo', 'bar']))).toBe(17745830980996999794n);
    expect(stringsHash(['foo'])).toEqual(keyHash('foo'));
  });

  it('sorts the values of a repeated header first, so their order does not matter', () => {
    expect(headerHash(['foo', 'bar'])).toEqual(stringsHash(['bar', 'foo']));
    expect(headerHash(['bar', 'foo'])).toEqual(headerHash(['foo', 'bar']));
    expect(headerHash(['x'])).toEqual(keyHash('x'));
  });
});
