/**
 * `response.flags` is Envoy's legacy response-flag bitmask (context.cc ResponseLookupValues
 * `legacyResponseFlags`), bits as in envoy/stream_info/stream_info.h `ResponseFlag`.
 */
const BITS: Readonly<Record<string, number>> = {
  LH: 0x1,
  UH: 0x2,
  UT: 0x4,
  LR: 0x8,
  UR: 0x10,
  UF: 0x20,
  UC: 0x40,
  UO: 0x80,
  NR: 0x100,
  DI: 0x200,
  FI: 0x400,
  RL: 0x800,
  UAEX: 0x1000,
  RLSE: 0x2000,
  DC: 0x4000,
  URX: 0x8000,
  SI: 0x10000,
  IH: 0x20000,
  DPE: 0x40000,
  UMSDR: 0x80000,
  RFCF: 0x100000,
  NFCF: 0x200000,
  DT: 0x400000,
  UPE: 0x800000,
  NC: 0x1000000,
  OM: 0x2000000,
  DF: 0x4000000,
};

/** The bitmask of short flag names (`UO`, `NR`...) as a CEL int. */
export function responseFlagBits(flags: readonly string[]): bigint {
  let bits = 0;
  for (const f of flags) if (Object.hasOwn(BITS, f)) bits |= BITS[f] as number;
  return BigInt(bits);
}
