import type { AccessLogEntry, AccessLogTiming } from './entry.js';
import type { Extractor } from './operators.js';
import { defaultTime, formatTime, TIME_FORMAT_NEWLINE } from './time-format.js';

type Point = (e: AccessLogEntry) => number | null;

const at =
  (key: keyof AccessLogTiming): Point =>
  (e) =>
    e.timing?.[key] ?? null;

/**
 * The time points of `%COMMON_DURATION(START:END:PRECISION)%` (envoy
 * stream_info_formatter.h CommonDurationFormatter), in ms after the request's start; the
 * connection and first-upstream-byte points meshlet's transports do not report read as
 * unset, as do custom (filter-set) points.
 */
const POINTS: Readonly<Record<string, Point>> = {
  DS_RX_BEG: () => 0,
  DS_RX_END: at('lastDownstreamRx'),
  US_TX_BEG: at('firstUpstreamTx'),
  US_TX_END: at('lastUpstreamTx'),
  US_RX_BEG: at('firstUpstreamRx'),
  US_RX_END: at('lastUpstreamRx'),
  DS_TX_BEG: at('firstDownstreamTx'),
  DS_TX_END: at('lastDownstreamTx'),
};

/** A span of ms as whole nanoseconds, as Envoy's monotonic times are (no float residue). */
const nanos = (ms: number): number => Math.round(ms * 1e6);

/** Envoy's duration_cast to whole milliseconds. */
const millis = (v: number | null): number | null => (v === null ? null : Math.trunc(nanos(v) / 1e6));

/** The duration operators, or null when `name` is not one (or is malformed). */
export function timeOperator(name: string, arg: string | null): Extractor | null {
  switch (name) {
    case 'START_TIME':
    case 'START_TIME_LOCAL':
    case 'EMIT_TIME':
    case 'EMIT_TIME_LOCAL': {
      // Envoy refuses a format that could print a newline (SystemTimeFormatter).
      if (arg !== null && TIME_FORMAT_NEWLINE.test(arg)) return null;
      const local = name.endsWith('_LOCAL');
      const when = name.startsWith('EMIT') ? () => Date.now() : (e: AccessLogEntry) => e.startTime;
      return arg === null || arg === ''
        ? (e) => defaultTime(when(e), local)
        : (e) => formatTime(arg, when(e), local);
    }
    case 'REQUEST_DURATION':
      return arg === null ? (e) => millis(at('lastDownstreamRx')(e)) : null;
    case 'REQUEST_TX_DURATION':
      return arg === null ? (e) => millis(at('lastUpstreamTx')(e)) : null;
    case 'RESPONSE_DURATION':
      return arg === null ? (e) => millis(at('firstUpstreamRx')(e)) : null;
    case 'RESPONSE_TX_DURATION':
      // Last byte sent downstream minus first byte from upstream (TimingUtility).
      return arg === null
        ? (e) => {
            const first = at('firstUpstreamRx')(e);
            const last = at('lastDownstreamTx')(e);
            return first === null || last === null ? null : millis(last - first);
          }
        : null;
    case 'COMMON_DURATION':
      return arg === null ? null : commonDuration(arg);
    default:
      return null;
  }
}

/** Nanoseconds per unit of each precision. */
const SCALE: Readonly<Record<string, number>> = { ms: 1e6, us: 1e3, ns: 1 };

/**
 * `%COMMON_DURATION(START:END[:ms|us|ns])%`: END - START, unset when either point is or
 * when END is before START. An unknown time point name is a filter-set one (never set
 * here); a wrong precision or shape is a config Envoy refuses.
 */
function commonDuration(arg: string): Extractor | null {
  const parts = arg.split(':');
  if (parts.length < 2 || parts.length > 3) return null;
  const [start = '', end = '', precision = 'ms'] = parts;
  const scale = SCALE[precision];
  if (scale === undefined) return null;
  const none: Point = () => null;
  const from = POINTS[start] ?? none;
  const to = POINTS[end] ?? none;
  return (e) => {
    const a = from(e);
    const b = to(e);
    if (a === null || b === null || b < a) return null;
    return Math.trunc(nanos(b - a) / scale);
  };
}
