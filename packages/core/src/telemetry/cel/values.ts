/**
 * CEL values as meshlet represents them (cel-spec `doc/langdef.md` "Values"): `int` is a
 * bigint, `uint` a {@link CelUint}, `double` a number, `string` a string, `bytes` a
 * Uint8Array, `list` an array, `map` a {@link CelMap}, `null_type` null. An error is a
 * value too ({@link CelError}), so `&&`/`||` can absorb it as CEL's commutative logic says.
 */
export type CelValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | CelUint
  | CelDuration
  | CelTimestamp
  | readonly CelValue[]
  | CelMap
  | CelError;

export class CelUint {
  constructor(readonly value: bigint) {}
}

/** A `google.protobuf.Duration`, in nanoseconds. */
export class CelDuration {
  constructor(readonly nanos: bigint) {}
}

/** A `google.protobuf.Timestamp`, in nanoseconds since the Unix epoch. */
export class CelTimestamp {
  constructor(readonly nanos: bigint) {}
}

/** An evaluation error (no such key, no matching overload, overflow...). */
export class CelError {
  constructor(readonly message: string) {}
}

/** A CEL map: attribute maps (request, headers) are lazy; literals are {@link LiteralMap}. */
export abstract class CelMap {
  /** The value at `key`, or undefined for CEL's "no such key". */
  abstract get(key: CelValue): CelValue | undefined;
  abstract size(): number;
  abstract keys(): readonly CelValue[];
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

export const isError = (v: CelValue): v is CelError => v instanceof CelError;

export const noSuchKey = (key: CelValue): CelError => new CelError(`no such key: ${debugString(key)}`);

export const noOverload = (fn: string, ...args: readonly CelValue[]): CelError =>
  new CelError(`no matching overload for '${fn}' applied to (${args.map(typeName).join(', ')})`);

export function typeName(v: CelValue): string {
  if (v === null) return 'null_type';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    default:
      break;
  }
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof CelUint) return 'uint';
  if (v instanceof CelDuration) return 'google.protobuf.Duration';
  if (v instanceof CelTimestamp) return 'google.protobuf.Timestamp';
  if (v instanceof CelMap) return 'map';
  if (v instanceof CelError) return 'error';
  return 'list';
}

function debugString(v: CelValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof CelUint) return `${v.value}u`;
  return typeName(v);
}

/** A map literal (`{'a': 1}`); keys are int, uint, bool or string, numeric keys compare by value. */
export class LiteralMap extends CelMap {
  private readonly entries = new Map<string, readonly [CelValue, CelValue]>();

  /** Null when `key` cannot be a map key; the caller reports it. */
  static keyOf(key: CelValue): string | null {
    if (typeof key === 'string') return `s${key}`;
    if (typeof key === 'boolean') return `b${key}`;
    if (typeof key === 'bigint') return `n${key}`;
    if (key instanceof CelUint) return `n${key.value}`;
    if (typeof key === 'number' && Number.isInteger(key)) return `n${BigInt(key)}`;
    return null;
  }

  /** False when the key repeats or cannot be a key. */
  set(key: CelValue, value: CelValue): boolean {
    const k = LiteralMap.keyOf(key);
    if (k === null || this.entries.has(k)) return false;
    this.entries.set(k, [key, value]);
    return true;
  }

  get(key: CelValue): CelValue | undefined {
    const k = LiteralMap.keyOf(key);
    return k === null ? undefined : this.entries.get(k)?.[1];
  }

  size(): number {
    return this.entries.size;
  }

  keys(): readonly CelValue[] {
    return [...this.entries.values()].map(([k]) => k);
  }
}
