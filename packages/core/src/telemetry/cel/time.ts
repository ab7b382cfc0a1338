import { CelDuration, CelTimestamp } from './values.js';

const UNIT_NANOS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** CEL's `duration('1.5s')` (absl::ParseDuration: signed decimal numbers with units). Null when invalid. */
export function parseDuration(text: string): CelDuration | null {
  const m = /^([+-]?)(.*)$/.exec(text);
  const body = m?.[2] ?? '';
  if (body === '0') return new CelDuration(0n);
  if (body === '') return null;
  const part = /(\d*)(?:\.(\d*))?(ns|us|µs|ms|s|m|h)/y;
  let total = 0n;
  let i = 0;
  while (i < body.length) {
    part.lastIndex = i;
    const p = part.exec(body);
    if (p === null || (p[1] === '' && (p[2] ?? '') === '')) return null;
    const unit = UNIT_NANOS[p[3] as string] as bigint;
    const frac = p[2] ?? '';
    total += BigInt(p[1] || '0') * unit;
    if (frac !== '') total += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    i = part.lastIndex;
  }
  return new CelDuration(m?.[1] === '-' ? -total : total);
}

/** Parse an RFC 3339 timestamp as CEL's `timestamp('2026-01-02T03:04:05Z')` does. Null when invalid. */
export function parseTimestamp(text: string): CelTimestamp | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(
      text,
    );
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac = '', , sign, oh = '0', om = '0'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return null;
  const offset = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === '-' ? -1 : 1);
  const nanos = BigInt(ms - offset) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
  return new CelTimestamp(nanos);
}

function trimFraction(n: bigint, unit: bigint, digits: number): string {
  const whole = n / unit;
  const rest = n % unit;
  if (rest === 0n) return whole.toString();
  const scale = 10n ** BigInt(digits);
  const frac = ((rest * scale) / unit).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

/** absl::FormatDuration, as Envoy's `print` renders a duration (`1h2m3.5s`, `250ms`, `0`). */
export function formatDuration(d: CelDuration): string {
  let n = d.nanos;
  let out = '';
  if (n < 0n) {
    out = '-';
    n = -n;
  }
  if (n === 0n) return '0';
  if (n < 1_000_000_000n) {
    if (n < 1000n) return `${out}${n}ns`;
    if (n < 1_000_000n) return `${out}${trimFraction(n, 1000n, 3)}us`;
    return `${out}${trimFraction(n, 1_000_000n, 6)}ms`;
  }
  const hours = n / 3_600_000_000_000n;
  n %= 3_600_000_000_000n;
  const minutes = n / 60_000_000_000n;
  n %= 60_000_000_000n;
  if (hours > 0n) out += `${hours}h`;
  if (minutes > 0n) out += `${minutes}m`;
  if (n > 0n) out += `${trimFraction(n, 1_000_000_000n, 9)}s`;
  return out;
}

/** absl::FormatTime in UTC (RFC3339_full), as Envoy's `print` renders a timestamp. */
export function formatTimestamp(t: CelTimestamp, zone: '+00:00' | 'Z' = '+00:00'): string {
  const ms = Number(t.nanos / 1_000_000n) - (t.nanos % 1_000_000n < 0n ? 1 : 0);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const sub = ((t.nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const frac = sub === 0n ? '' : `.${sub.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${iso}${frac}${zone}`;
}

/** Milliseconds (fractional) as a CEL duration. */
export const durationOfMs = (ms: number): CelDuration => new CelDuration(BigInt(Math.round(ms * 1e6)));

/** Epoch milliseconds as a CEL timestamp. */
export const timestampOfMs = (ms: number): CelTimestamp =>
  new CelTimestamp(BigInt(Math.round(ms)) * 1_000_000n);
