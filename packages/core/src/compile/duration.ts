import { parseGoDuration } from '../config/validate/duration.js';

/**
 * A validated Go duration (`3s`, `100ms`, `1h30m`) in whole milliseconds;
 * null when absent. Validation already rejected anything that does not parse.
 */
export function toMs(value: string | undefined | null): number | null {
  if (value === undefined || value === null) return null;
  const ms = parseGoDuration(value);
  return ms === null ? null : Math.round(ms);
}
