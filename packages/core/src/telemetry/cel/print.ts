import { formatDuration, formatTimestamp } from './time.js';
import { CelDuration, CelMap, CelTimestamp, CelUint, type CelValue } from './values.js';

/**
 * A double as absl::StrCat prints it (six significant digits, `%g`): `1.5`, `1e+20`,
 * `1.23457e+06`, `nan`, `inf`.
 */
export function formatDouble(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [mant = '', e = '0'] = v.toExponential(5).split('e');
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = v.toFixed(Math.max(0, 5 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/**
 * A CEL value as text, as Envoy's `Filters::Common::Expr::print` renders a tag value
 * (envoy source/extensions/filters/common/expr/evaluator.cc `print`): null is `NULL`,
 * bytes are their raw content, lists and maps are `list value` / `map value`.
 */
export function printValue(v: CelValue): string {
  if (v === null) return 'NULL';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'number':
      return formatDouble(v);
    case 'string':
      return v;
    default:
      break;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof CelUint) return v.value.toString();
  if (v instanceof CelDuration) return formatDuration(v);
  if (v instanceof CelTimestamp) return formatTimestamp(v);
  if (v instanceof CelMap) return 'map value';
  return 'list value';
}
