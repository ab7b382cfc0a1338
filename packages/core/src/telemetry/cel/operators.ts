import {
  CelDuration,
  CelError,
  CelMap,
  CelTimestamp,
  CelUint,
  INT64_MAX,
  INT64_MIN,
  UINT64_MAX,
  noOverload,
  type CelValue,
} from './values.js';

/** CEL's standard operators (cel-spec `doc/langdef.md` "Standard definitions"). */

const overflow = new CelError('return error for overflow');

export function int64(v: bigint): CelValue {
  return v < INT64_MIN || v > INT64_MAX ? overflow : v;
}

export function uint64(v: bigint): CelValue {
  return v < 0n || v > UINT64_MAX ? overflow : new CelUint(v);
}

const isList = (v: CelValue): v is readonly CelValue[] => Array.isArray(v);

/** The numeric value of int, uint or double, for CEL's cross-type numeric comparison. */
function numeric(v: CelValue): bigint | number | null {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (v instanceof CelUint) return v.value;
  return null;
}

/** -1, 0, 1, or NaN when unordered (a NaN double). */
function compareNumbers(a: bigint | number, b: bigint | number): number {
  if (typeof a === 'number' && Number.isNaN(a)) return NaN;
  if (typeof b === 'number' && Number.isNaN(b)) return NaN;
  // bigint and number compare by mathematical value in JavaScript.
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** Compare strings by code point, as CEL orders strings. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** CEL ordering: a number, NaN (unordered), or an error for types without `<`. */
export function compare(fn: string, a: CelValue, b: CelValue): number | CelError {
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== null && nb !== null) return compareNumbers(na, nb);
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  if (a instanceof CelDuration && b instanceof CelDuration) return compareNumbers(a.nanos, b.nanos);
  if (a instanceof CelTimestamp && b instanceof CelTimestamp) return compareNumbers(a.nanos, b.nanos);
  return noOverload(fn, a, b);
}

/** CEL heterogeneous equality: values of different types are unequal, numbers compare by value. */
export function equals(a: CelValue, b: CelValue): boolean {
  if (a === b) return typeof a !== 'number' || !Number.isNaN(a);
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== null && nb !== null) return compareNumbers(na, nb) === 0;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b) === 0;
  if (a instanceof CelDuration && b instanceof CelDuration) return a.nanos === b.nanos;
  if (a instanceof CelTimestamp && b instanceof CelTimestamp) return a.nanos === b.nanos;
  if (isList(a) && isList(b)) return a.length === b.length && a.every((x, i) => equals(x, b[i] as CelValue));
  if (a instanceof CelMap && b instanceof CelMap) {
    if (a.size() !== b.size()) return false;
    return a.keys().every((k) => {
      const bv = b.get(k);
      return bv !== undefined && equals(a.get(k) as CelValue, bv);
    });
  }
  return false;
}

export interface ArithmeticOptions {
  /** `string + string` (cel-cpp `enable_string_concat`). */
  readonly stringConcat: boolean;
  /** `list + list` (cel-cpp `enable_list_concat`). */
  readonly listConcat: boolean;
}

export function add(a: CelValue, b: CelValue, o: ArithmeticOptions): CelValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') return int64(a + b);
  if (a instanceof CelUint && b instanceof CelUint) return uint64(a.value + b.value);
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (o.stringConcat && typeof a === 'string' && typeof b === 'string') return a + b;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }
  if (o.listConcat && isList(a) && isList(b)) return [...a, ...b];
  if (a instanceof CelDuration && b instanceof CelDuration) return duration(a.nanos + b.nanos);
  if (a instanceof CelTimestamp && b instanceof CelDuration) return new CelTimestamp(a.nanos + b.nanos);
  if (a instanceof CelDuration && b instanceof CelTimestamp) return new CelTimestamp(a.nanos + b.nanos);
  return noOverload('_+_', a, b);
}

function duration(nanos: bigint): CelValue {
  // google.protobuf.Duration spans +-315,576,000,000 seconds.
  return nanos > 315_576_000_000n * 1_000_000_000n || nanos < -315_576_000_000n * 1_000_000_000n
    ? overflow
    : new CelDuration(nanos);
}

export function subtract(a: CelValue, b: CelValue): CelValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') return int64(a - b);
  if (a instanceof CelUint && b instanceof CelUint) return uint64(a.value - b.value);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (a instanceof CelDuration && b instanceof CelDuration) return duration(a.nanos - b.nanos);
  if (a instanceof CelTimestamp && b instanceof CelTimestamp) return duration(a.nanos - b.nanos);
  if (a instanceof CelTimestamp && b instanceof CelDuration) return new CelTimestamp(a.nanos - b.nanos);
  return noOverload('_-_', a, b);
}

export function multiply(a: CelValue, b: CelValue): CelValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') return int64(a * b);
  if (a instanceof CelUint && b instanceof CelUint) return uint64(a.value * b.value);
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  return noOverload('_*_', a, b);
}

export function divide(a: CelValue, b: CelValue): CelValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    if (b === 0n) return new CelError('divide by zero');
    return int64(a / b);
  }
  if (a instanceof CelUint && b instanceof CelUint) {
    if (b.value === 0n) return new CelError('divide by zero');
    return new CelUint(a.value / b.value);
  }
  if (typeof a === 'number' && typeof b === 'number') return a / b;
  return noOverload('_/_', a, b);
}

export function modulo(a: CelValue, b: CelValue): CelValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    if (b === 0n) return new CelError('modulus by zero');
    return a % b;
  }
  if (a instanceof CelUint && b instanceof CelUint) {
    if (b.value === 0n) return new CelError('modulus by zero');
    return new CelUint(a.value % b.value);
  }
  return noOverload('_%_', a, b);
}

export function negate(a: CelValue): CelValue {
  if (typeof a === 'bigint') return int64(-a);
  if (typeof a === 'number') return -a;
  if (a instanceof CelDuration) return new CelDuration(-a.nanos);
  return noOverload('-_', a);
}

/** `a in b`: list membership by equality, map key presence. */
export function inOperator(a: CelValue, b: CelValue): CelValue {
  if (isList(b)) return b.some((x) => equals(a, x));
  if (b instanceof CelMap) return b.get(a) !== undefined;
  return noOverload('@in', a, b);
}
