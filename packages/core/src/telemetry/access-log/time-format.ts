/**
 * Envoy's access-log time formatting (source/common/common/utility.cc DateFormatter and
 * AccessLogDateTimeFormatter): `%s` (epoch seconds) and `%f` / `%1f`..`%9f` (fraction
 * digits, 9 by default) by Envoy itself, the rest by absl::FormatTime, a strftime with
 * `%E#S` (seconds with # fraction digits), `%Ez` (`+hh:mm`).
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The broken-down time, UTC or the process's local zone. */
interface Parts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** Minutes east of UTC. */
  readonly offset: number;
  readonly yearDay: number;
}

function partsOf(ms: number, local: boolean): Parts {
  const d = new Date(ms);
  const offset = local ? -d.getTimezoneOffset() : 0;
  const s = new Date(ms + offset * 60_000);
  const start = Date.UTC(s.getUTCFullYear(), 0, 1);
  return {
    year: s.getUTCFullYear(),
    month: s.getUTCMonth(),
    day: s.getUTCDate(),
    weekday: s.getUTCDay(),
    hour: s.getUTCHours(),
    minute: s.getUTCMinutes(),
    second: s.getUTCSeconds(),
    offset,
    yearDay: Math.floor((s.getTime() - start) / 86_400_000) + 1,
  };
}

function offsetText(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${pad(Math.floor(a / 60))}${colon ? ':' : ''}${pad(a % 60)}`;
}

function zoneName(ms: number, local: boolean): string {
  if (!local) return 'UTC';
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(new Date(ms))
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? '';
}

/** The fraction of the second, `digits` long (truncated, as Envoy's `%Nf`). */
function fraction(ms: number, digits: number): string {
  const nanos = Math.round((((ms % 1000) + 1000) % 1000) * 1e6);
  return pad(nanos, 9).slice(0, digits);
}

const SPEC = /%(E[1-9*]S|Ez|[1-9]?f|[A-Za-z%])/g;

/** `%START_TIME(format)%` and its kin: `ms` (epoch ms) through `format`, UTC unless `local`. */
export function formatTime(format: string, ms: number, local = false): string {
  const p = partsOf(ms, local);
  return format.replace(SPEC, (whole, spec: string) => {
    if (spec.endsWith('f') && spec.length <= 2) return fraction(ms, spec === 'f' ? 9 : Number(spec[0]));
    if (spec.startsWith('E') && spec.endsWith('S')) {
      const digits = spec[1] === '*' ? 9 : Number(spec[1]);
      return `${pad(p.second)}.${fraction(ms, digits)}`;
    }
    switch (spec) {
      case 'Ez':
        return offsetText(p.offset, true);
      case 'Y':
        return String(p.year);
      case 'y':
        return pad(p.year % 100);
      case 'C':
        return pad(Math.floor(p.year / 100));
      case 'm':
        return pad(p.month + 1);
      case 'd':
        return pad(p.day);
      case 'e':
        return String(p.day).padStart(2, ' ');
      case 'j':
        return pad(p.yearDay, 3);
      case 'H':
        return pad(p.hour);
      case 'I':
        return pad(p.hour % 12 === 0 ? 12 : p.hour % 12);
      case 'p':
        return p.hour < 12 ? 'AM' : 'PM';
      case 'M':
        return pad(p.minute);
      case 'S':
        return pad(p.second);
      case 'a':
        return (DAYS[p.weekday] as string).slice(0, 3);
      case 'A':
        return DAYS[p.weekday] as string;
      case 'b':
      case 'h':
        return (MONTHS[p.month] as string).slice(0, 3);
      case 'B':
        return MONTHS[p.month] as string;
      case 'u':
        return String(p.weekday === 0 ? 7 : p.weekday);
      case 'w':
        return String(p.weekday);
      case 'z':
        return offsetText(p.offset, false);
      case 'Z':
        return zoneName(ms, local);
      case 's':
        return String(Math.floor(ms / 1000));
      case 'F':
        return `${p.year}-${pad(p.month + 1)}-${pad(p.day)}`;
      case 'D':
        return `${pad(p.month + 1)}/${pad(p.day)}/${pad(p.year % 100)}`;
      case 'T':
        return `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
      case 'R':
        return `${pad(p.hour)}:${pad(p.minute)}`;
      case 't':
        return '\t';
      case '%':
        return '%';
      default:
        return whole;
    }
  });
}

/**
 * Envoy's format when none is given (utility.cc getDefaultDateFormat):
 * `2026-11-27T15:50:07.123Z` in UTC, `2026-11-27T16:50:07.123+0100` in local time.
 */
export function defaultTime(ms: number, local = false): string {
  return formatTime(local ? '%Y-%m-%dT%H:%M:%E3S%z' : '%Y-%m-%dT%H:%M:%E3SZ', ms, local);
}

/** Envoy refuses a time format that could print a newline (`%n`, `%En`...). */
export const TIME_FORMAT_NEWLINE = /%[-_0^#]*[1-9]*(E|O)?n/;
