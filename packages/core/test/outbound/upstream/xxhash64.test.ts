import { describe, expect, it } from 'vitest';
import { hash64ToBigInt, xxHash64, type Hash64 } from '../../../src/outbound/upstream/xxhash64.js';

function seed(v: bigint): Hash64 {
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
}

describe('xxHash64', () => {
  // envoy test/common/common/hash_test.cc `TEST(Hash, xxHash)`: HashUtil::xxHash64, seed 0.
  it.each([
    ['foo', 3728699739546630719n],
    ['bar', 5234164152756840025n],
    ['foo\nbar', 8917841378505826757n],
    ['lyft', 4400747396090729504n],
    ['', 17241709254077376921n],
  ])('hashes %j as Envoy HashUtil::xxHash64 does', (input, want) => {
    expect(hash64ToBigInt(xxHash64(input))).toBe(want);
  });

  it('gives xxh64("") = 0xEF46DB3751D8E999', () => {
    expect(hash64ToBigInt(xxHash64(''))).toBe(0xef46db3751d8e999n);
  });

  // Reference digests published with other xxHash ports (dotnet System.IO.Hashing tests, the
  // xxHash spec vectors): inputs of 31, 32 and 43+ bytes exercise the four-lane main loop.
  it.each([
    ['', 1n, 0xd5afba1336a3be4bn],
    ['a', 0n, 0xd24ec4f1a98c6e5bn],
    ['abc', 0n, 0x44bc2cf5ad770999n],
    ['Hello, world!', 0n, 0xf58336a78b6f9476n],
    ['1234567890123456789012345678901', 0n, 0x8f367cb873a5376en],
    ['01234567890123456789012345678901', 0n, 0xe5cc9f411ea110ban],
    ['12345678901234567890123456789012', 5381n, 0x38ea26e7c55f8095n],
    ['The quick brown fox jumps over the lazy dog', 0n, 0x0b242d361fda71bcn],
    ['Nobody inspects the spammish repetition', 0n, 0xfbcea83c8a378bf1n],
    ['Nobody inspects the spammish repetition', 123n, 0xa8ba45551f24b7aen],
  ])('hashes %j with seed %s to the reference digest', (input, s, want) => {
    expect(hash64ToBigInt(xxHash64(input, seed(s)))).toBe(want);
  });

  it('hashes the bytes a Node HTTP client puts on the wire (latin1) for header text', () => {
    // "é" goes out as the single byte 0xE9; Envoy hashes those bytes.
    expect(xxHash64('caf\u00e9')).toEqual(xxHash64(Buffer.from('caf\u00e9', 'latin1')));
    // Text beyond latin1 cannot be a header value; it hashes as UTF-8.
    expect(xxHash64('\u2603')).toEqual(xxHash64(Buffer.from('\u2603', 'utf8')));
  });

  it('hashes a long key the same as its bytes', () => {
    const long = 'x-user-'.repeat(40);
    expect(xxHash64(long)).toEqual(xxHash64(Buffer.from(long, 'latin1')));
  });
});
