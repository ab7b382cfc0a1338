/** Randomness, injected: weighted splits, fault percentages, backoff jitter, load balancing. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

export const systemRandom: Random = Object.freeze({ next: () => Math.random() });

/** A seeded generator (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return {
    next: () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}
