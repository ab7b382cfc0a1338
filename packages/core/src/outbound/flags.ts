import type { ResponseFlag } from './meshlet-info.js';

/**
 * Envoy prints response flags in the order of its `CoreResponseFlag` enum
 * (envoy/stream_info/stream_info.h), not the order they were set: `UF,URX`, never `URX,UF`.
 */
const ORDER: readonly ResponseFlag[] = [
  'UH',
  'UT',
  'LR',
  'UR',
  'UF',
  'UC',
  'UO',
  'NR',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'DC',
  'URX',
  'DPE',
  'DT',
  'NC',
];

/** Adds `flag` to `flags` once, keeping Envoy's order. */
export function addFlag(flags: ResponseFlag[], flag: ResponseFlag): void {
  if (flags.includes(flag)) return;
  const rank = ORDER.indexOf(flag);
  let i = flags.length;
  while (i > 0 && ORDER.indexOf(flags[i - 1] as ResponseFlag) > rank) i--;
  flags.splice(i, 0, flag);
}
