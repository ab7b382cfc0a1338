/**
 * xxHash64 (XXH64), the hash Envoy uses for request keys and for ring/Maglev host positions
 * (envoy source/common/common/hash.h `HashUtil::xxHash64`). 64-bit arithmetic runs on two
 * unsigned 32-bit halves: no BigInt, no allocation but the result.
 */

/** An unsigned 64-bit value as its high and low 32-bit halves. */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

// The five XXH64 primes, as [hi, lo].
const P1H = 0x9e3779b1;
const P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d;
const P2L = 0x27d4eb4f;
const P3H = 0x165667b1;
const P3L = 0x9e3779f9;
const P4H = 0x85ebca77;
const P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f;
const P5L = 0x165667c5;

const TWO32 = 4294967296;

// Result registers of the helpers below (kept module-level so nothing allocates).
let rh = 0;
let rl = 0;

/** (ah:al) × (bh:bl) mod 2^64. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  // The high word of al × bl, from 16-bit partial products (each exact in a double).
  const mid = a1 * b0 + a0 * b1 + ((a0 * b0) >>> 16);
  const carry = a1 * b1 + Math.floor(mid / 65536);
  rl = Math.imul(al, bl) >>> 0;
  rh = (carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** (ah:al) + (bh:bl) mod 2^64. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rl = lo >>> 0;
  rh = (ah + bh + (lo >= TWO32 ? 1 : 0)) >>> 0;
}

/** Rotate left by r, 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** XXH64_round: acc = rotl(acc + input × P2, 31) × P1. */
function round(accH: number, accL: number, inH: number, inL: number): void {
  mul(inH, inL, P2H, P2L);
  add(accH, accL, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

/** XXH64_mergeRound: acc = (acc ^ round(0, val)) × P1 + P4. */
function mergeRound(accH: number, accL: number, vH: number, vL: number): void {
  round(0, 0, vH, vL);
  mul((accH ^ rh) >>> 0, (accL ^ rl) >>> 0, P1H, P1L);
  add(rh, rl, P4H, P4L);
}

function read32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** XXH64 of `len` bytes of `b` with a 64-bit seed. */
function digest(b: Uint8Array, len: number, seedH: number, seedL: number): Hash64 {
  let p = 0;
  let hH: number;
  let hL: number;
  if (len >= 32) {
    add(seedH, seedL, P1H, P1L);
    add(rh, rl, P2H, P2L);
    let v1H = rh;
    let v1L = rl;
    add(seedH, seedL, P2H, P2L);
    let v2H = rh;
    let v2L = rl;
    let v3H = seedH;
    let v3L = seedL;
    // seed - P1 = seed + (2^64 - P1)
    add(seedH, seedL, ~P1H >>> 0, (~P1L + 1) >>> 0);
    let v4H = rh;
    let v4L = rl;
    const limit = len - 32;
    while (p <= limit) {
      round(v1H, v1L, read32(b, p + 4), read32(b, p));
      v1H = rh;
      v1L = rl;
      round(v2H, v2L, read32(b, p + 12), read32(b, p + 8));
      v2H = rh;
      v2L = rl;
      round(v3H, v3L, read32(b, p + 20), read32(b, p + 16));
      v3H = rh;
      v3L = rl;
      round(v4H, v4L, read32(b, p + 28), read32(b, p + 24));
      v4H = rh;
      v4L = rl;
      p += 32;
    }
    rotl(v1H, v1L, 1);
    let aH = rh;
    let aL = rl;
    rotl(v2H, v2L, 7);
    add(aH, aL, rh, rl);
    aH = rh;
    aL = rl;
    rotl(v3H, v3L, 12);
    add(aH, aL, rh, rl);
    aH = rh;
    aL = rl;
    rotl(v4H, v4L, 18);
    add(aH, aL, rh, rl);
    mergeRound(rh, rl, v1H, v1L);
    mergeRound(rh, rl, v2H, v2L);
    mergeRound(rh, rl, v3H, v3L);
    mergeRound(rh, rl, v4H, v4L);
    hH = rh;
    hL = rl;
  } else {
    add(seedH, seedL, P5H, P5L);
    hH = rh;
    hL = rl;
  }
  add(hH, hL, Math.floor(len / TWO32), len >>> 0);
  hH = rh;
  hL = rl;
  while (p + 8 <= len) {
    round(0, 0, read32(b, p + 4), read32(b, p));
    rotl((hH ^ rh) >>> 0, (hL ^ rl) >>> 0, 27);
    mul(rh, rl, P1H, P1L);
    add(rh, rl, P4H, P4L);
    hH = rh;
    hL = rl;
    p += 8;
  }
  if (p + 4 <= len) {
    mul(0, read32(b, p), P1H, P1L);
    rotl((hH ^ rh) >>> 0, (hL ^ rl) >>> 0, 23);
    mul(rh, rl, P2H, P2L);
    add(rh, rl, P3H, P3L);
    hH = rh;
    hL = rl;
    p += 4;
  }
  while (p < len) {
    mul(0, b[p]!, P5H, P5L);
    rotl((hH ^ rh) >>> 0, (hL ^ rl) >>> 0, 11);
    mul(rh, rl, P1H, P1L);
    hH = rh;
    hL = rl;
    p++;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hL = (hL ^ (hH >>> 1)) >>> 0;
  mul(hH, hL, P2H, P2L);
  hH = rh;
  hL = (rl ^ ((rl >>> 29) | (rh << 3))) >>> 0;
  hH = (hH ^ (hH >>> 29)) >>> 0;
  mul(hH, hL, P3H, P3L);
  return { hi: rh, lo: (rl ^ rh) >>> 0 };
}

let scratch = new Uint8Array(256);

/**
 * The bytes Envoy sees for `s`. Header values, cookies and paths reach the wire through
 * Node's HTTP client as latin1 (one byte per char); a string with a char above U+00FF cannot
 * be a header value and is taken as UTF-8.
 */
function bytesOf(s: string): { bytes: Uint8Array; len: number } {
  const n = s.length;
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      const utf8 = Buffer.from(s, 'utf8');
      return { bytes: utf8, len: utf8.length };
    }
    scratch[i] = c;
  }
  return { bytes: scratch, len: n };
}

const ZERO: Hash64 = { hi: 0, lo: 0 };

/** XXH64(input, seed); a string hashes as its latin1 bytes (UTF-8 beyond latin1). */
export function xxHash64(input: string | Uint8Array, seed: Hash64 = ZERO): Hash64 {
  if (typeof input !== 'string') return digest(input, input.length, seed.hi >>> 0, seed.lo >>> 0);
  const { bytes, len } = bytesOf(input);
  return digest(bytes, len, seed.hi >>> 0, seed.lo >>> 0);
}

/** For tests and logs: the value as a BigInt. */
export function hash64ToBigInt(h: Hash64): bigint {
  return (BigInt(h.hi) << 32n) | BigInt(h.lo);
}
