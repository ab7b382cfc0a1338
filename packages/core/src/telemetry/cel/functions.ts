import { RE2JS } from 're2js';
import { int64, uint64 } from './operators.js';
import { formatDouble } from './print.js';
import { formatTimestamp, parseDuration, parseTimestamp } from './time.js';
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

/**
 * Which CEL runtime an expression runs in. Envoy's shared builder (access-log filter)
 * turns off `string()`, string and list `+` and comprehensions (envoy
 * source/extensions/filters/common/expr/evaluator.cc createBuilder: "Security-oriented
 * defaults"); istio_stats builds its own with cel-cpp's default InterpreterOptions, which
 * has them all (contrib/istio/filters/http/istio_stats/source/istio_stats.cc
 * getOrCreateExpression).
 */
export interface CelRuntime {
  readonly stringConversion: boolean;
  readonly stringConcat: boolean;
  readonly listConcat: boolean;
  readonly comprehensions: boolean;
}

export const ENVOY_RUNTIME: CelRuntime = Object.freeze({
  stringConversion: false,
  stringConcat: false,
  listConcat: false,
  comprehensions: false,
});

export const ISTIO_STATS_RUNTIME: CelRuntime = Object.freeze({
  stringConversion: true,
  stringConcat: true,
  listConcat: true,
  comprehensions: true,
});

type Impl = (args: readonly CelValue[]) => CelValue;

/** A builtin: how it may be called (global `f(x)`, receiver `x.f()`), with how many arguments (receiver included). */
interface Builtin {
  readonly global: readonly number[];
  readonly receiver: readonly number[];
  readonly impl: Impl;
  readonly when?: (r: CelRuntime) => boolean;
}

function size(fn: string): Impl {
  return ([v = null]) => {
    if (typeof v === 'string') return BigInt([...v].length);
    if (v instanceof Uint8Array) return BigInt(v.length);
    if (Array.isArray(v)) return BigInt(v.length);
    if (v instanceof CelMap) return BigInt(v.size());
    return noOverload(fn, v);
  };
}

const stringMethod =
  (fn: string, test: (s: string, arg: string) => boolean): Impl =>
  ([s = null, arg = null]) =>
    typeof s === 'string' && typeof arg === 'string' ? test(s, arg) : noOverload(fn, s, arg);

const REGEX_CACHE = new Map<string, RE2JS | CelError>();

/** RE2 (re2js), never JavaScript RegExp on request data; compiled once per pattern. */
export function re2(pattern: string): RE2JS | CelError {
  let hit = REGEX_CACHE.get(pattern);
  if (hit === undefined) {
    try {
      hit = RE2JS.compile(pattern);
    } catch (err) {
      hit = new CelError(`invalid regular expression: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (REGEX_CACHE.size >= 256) REGEX_CACHE.clear();
    REGEX_CACHE.set(pattern, hit);
  }
  return hit;
}

const matches: Impl = ([s = null, p = null]) => {
  if (typeof s !== 'string' || typeof p !== 'string') return noOverload('matches', s, p);
  const re = re2(p);
  // CEL `matches` is a partial match: RE2::PartialMatch.
  return re instanceof CelError ? re : re.matcher(s).find();
};

function toInt([v = null]: readonly CelValue[]): CelValue {
  if (typeof v === 'bigint') return v;
  if (v instanceof CelUint) return int64(v.value);
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= -9.223372036854776e18 || v >= 9.223372036854776e18)
      return new CelError('double is out of int range');
    return BigInt(Math.trunc(v));
  }
  if (typeof v === 'string') {
    if (!/^[+-]?\d+$/.test(v)) return new CelError(`cannot convert "${v}" to int`);
    const n = BigInt(v);
    return n < INT64_MIN || n > INT64_MAX ? new CelError('int out of range') : n;
  }
  if (v instanceof CelTimestamp) return v.nanos / 1_000_000_000n - (v.nanos % 1_000_000_000n < 0n ? 1n : 0n);
  return noOverload('int', v);
}

function toUint([v = null]: readonly CelValue[]): CelValue {
  if (v instanceof CelUint) return v;
  if (typeof v === 'bigint') return uint64(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || v >= 1.8446744073709552e19)
      return new CelError('double is out of uint range');
    return new CelUint(BigInt(Math.trunc(v)));
  }
  if (typeof v === 'string') {
    if (!/^\+?\d+$/.test(v)) return new CelError(`cannot convert "${v}" to uint`);
    const n = BigInt(v);
    return n > UINT64_MAX ? new CelError('uint out of range') : new CelUint(n);
  }
  return noOverload('uint', v);
}

function toDouble([v = null]: readonly CelValue[]): CelValue {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof CelUint) return Number(v.value);
  if (typeof v === 'string') {
    const t = v.trim();
    if (t !== v || !/^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i.test(t))
      return new CelError(`cannot convert "${v}" to double`);
    const lower = t.toLowerCase().replace(/^[+-]/, '');
    if (lower.startsWith('inf')) return t.startsWith('-') ? -Infinity : Infinity;
    if (lower === 'nan') return NaN;
    return Number(t);
  }
  return noOverload('double', v);
}

function toStringValue([v = null]: readonly CelValue[]): CelValue {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof CelUint) return v.value.toString();
  if (typeof v === 'number') return formatDouble(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(v);
    } catch {
      return new CelError('invalid UTF-8 in bytes');
    }
  }
  if (v instanceof CelTimestamp) return formatTimestamp(v, 'Z');
  if (v instanceof CelDuration) return `${formatSeconds(v.nanos)}s`;
  return noOverload('string', v);
}

function formatSeconds(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const n = nanos < 0n ? -nanos : nanos;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${n / 1_000_000_000n}${frac === '' ? '' : `.${frac}`}`;
}

const toBytes: Impl = ([v = null]) => {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'utf8'));
  return noOverload('bytes', v);
};

const toDuration: Impl = ([v = null]) => {
  if (v instanceof CelDuration) return v;
  if (typeof v !== 'string') return noOverload('duration', v);
  return parseDuration(v) ?? new CelError(`cannot parse duration "${v}"`);
};

const toTimestamp: Impl = ([v = null]) => {
  if (v instanceof CelTimestamp) return v;
  if (typeof v === 'bigint') return new CelTimestamp(v * 1_000_000_000n);
  if (typeof v !== 'string') return noOverload('timestamp', v);
  return parseTimestamp(v) ?? new CelError(`cannot parse timestamp "${v}"`);
};

const BUILTINS: Readonly<Record<string, Builtin>> = {
  size: { global: [1], receiver: [1], impl: size('size') },
  int: { global: [1], receiver: [], impl: toInt },
  uint: { global: [1], receiver: [], impl: toUint },
  double: { global: [1], receiver: [], impl: toDouble },
  string: { global: [1], receiver: [], impl: toStringValue, when: (r) => r.stringConversion },
  bytes: { global: [1], receiver: [], impl: toBytes },
  duration: { global: [1], receiver: [], impl: toDuration },
  timestamp: { global: [1], receiver: [], impl: toTimestamp },
  dyn: { global: [1], receiver: [], impl: ([v = null]) => v },
  matches: { global: [2], receiver: [2], impl: matches },
  startsWith: { global: [], receiver: [2], impl: stringMethod('startsWith', (s, p) => s.startsWith(p)) },
  endsWith: { global: [], receiver: [2], impl: stringMethod('endsWith', (s, p) => s.endsWith(p)) },
  contains: { global: [], receiver: [2], impl: stringMethod('contains', (s, p) => s.includes(p)) },
};

/**
 * cel-cpp builtins (and Envoy's regex extension) meshlet does not evaluate: an
 * expression calling one is valid upstream but reported as beyond meshlet.
 */
const NOT_IMPLEMENTED = new Set([
  'type',
  'bool',
  'getFullYear',
  'getMonth',
  'getDate',
  'getDayOfMonth',
  'getDayOfWeek',
  'getDayOfYear',
  'getHours',
  'getMinutes',
  'getSeconds',
  'getMilliseconds',
  're.extract',
  're.capture',
  're.captureN',
]);

export type FunctionLookup =
  | { readonly ok: true; readonly impl: Impl }
  | { readonly ok: false; readonly reason: 'unknown' | 'not-implemented' };

/**
 * Resolve a call as cel-cpp's planner does: a name with no overload of this shape fails
 * the plan ("No overloads provided for FunctionStep creation"; `fail_on_warnings`).
 */
export function lookupFunction(
  name: string,
  receiver: boolean,
  arity: number,
  runtime: CelRuntime,
): FunctionLookup {
  const b = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
  if (b !== undefined && (b.when === undefined || b.when(runtime))) {
    if ((receiver ? b.receiver : b.global).includes(arity)) return { ok: true, impl: b.impl };
    return { ok: false, reason: 'unknown' };
  }
  if (NOT_IMPLEMENTED.has(name)) return { ok: false, reason: 'not-implemented' };
  return { ok: false, reason: 'unknown' };
}
