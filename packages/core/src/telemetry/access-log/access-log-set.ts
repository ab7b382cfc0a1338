import type { AccessLog } from './access-log.js';
import type { AccessLogEntry } from './entry.js';
import type { FormatProblem } from './format.js';

const NONE: AccessLog = Object.freeze({
  enabled: false,
  log: () => undefined,
  format: () => '',
  problems: Object.freeze([]),
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
  dropped: 0,
});

/**
 * Several access logs (one per Telemetry `accessLogging` provider in scope) as one:
 * every entry goes to each. With none, a disabled log that costs nothing. `format`
 * gives the first log's line.
 */
export function combineAccessLogs(logs: readonly AccessLog[]): AccessLog {
  const on = logs.filter((l) => l.enabled);
  if (on.length === 0) return NONE;
  if (on.length === 1) return on[0] as AccessLog;
  const problems: FormatProblem[] = on.flatMap((l) => l.problems);
  return {
    enabled: true,
    needsTiming: on.some((l) => l.needsTiming === true),
    problems: Object.freeze(problems),
    log(entry: AccessLogEntry) {
      for (const l of on) l.log(entry);
    },
    format: (entry) => (on[0] as AccessLog).format(entry),
    flush: () => Promise.all(on.map((l) => l.flush())).then(() => undefined),
    close: () => Promise.all(on.map((l) => l.close())).then(() => undefined),
    get dropped() {
      return on.reduce((n, l) => n + l.dropped, 0);
    },
  };
}
