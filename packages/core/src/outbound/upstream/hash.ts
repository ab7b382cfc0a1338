/**
 * A 32-bit string hash (FNV-1a with murmur3's finalizer) for ring placement and request
 * keys. Envoy hashes with xxHash64; meshlet's rings are its own, so only stickiness and
 * spread matter, not Envoy's exact positions.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
