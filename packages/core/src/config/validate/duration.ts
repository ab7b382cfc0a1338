/**
 * Go `time.ParseDuration` syntax, which Istio's legacy jsonpb decoding accepts
 * (spec/traffic.md §6): `ns us µs ms s m h`, decimals and compounds (`1h30m`), no `d`.
 * Returns milliseconds (possibly fractional) or null when the text is not a duration.
 */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

export function parseGoDuration(text: string): number | null {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (m === null) return null;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? NaN);
  }
  return Number.isFinite(total) ? sign * total : null;
}

export interface DurationRule {
  /** Allow `0s` (tcp idleTimeout, cookie ttl). */
  readonly allowZero?: boolean;
}

/**
 * Istio's webhook rule for durations: at least 1 ms and whole milliseconds
 * (`ValidateDuration` in istio pkg/config/validation). Returns a message or null.
 */
export function checkDuration(value: string, rule: DurationRule = {}): string | null {
  const ms = parseGoDuration(value);
  if (ms === null) return `${JSON.stringify(value)} is not a duration (use e.g. "3s", "100ms", "1h30m")`;
  if (ms === 0 && rule.allowZero === true) return null;
  if (ms < 1) return `duration must be greater than 1ms, got ${JSON.stringify(value)}`;
  if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) {
    return `only durations to ms precision are supported, got ${JSON.stringify(value)}`;
  }
  return null;
}
