import type { AccessLogEntry } from './entry.js';
import { compileEntryFilter, type EntryFilter } from './filter.js';
import {
  compileJsonFormat,
  compileTextFormat,
  parseJsonFormat,
  type FormatProblem,
  type JsonFormat,
  type LineFormatter,
} from './format.js';
import { ISTIO_JSON_FORMAT, ISTIO_TEXT_FORMAT } from './formats.js';
import { createLineSink, type LineSink, type SinkOptions } from './sink.js';

export interface AccessLogOptions extends SinkOptions {
  /** meshConfig `accessLogFile` or a provider's `path`; `/dev/stdout` supported. '' = off. */
  readonly file: string;
  /** meshConfig `accessLogEncoding`. Default TEXT. */
  readonly encoding?: 'TEXT' | 'JSON';
  /**
   * meshConfig `accessLogFormat`: a TEXT format string, or for JSON a JSON object text
   * (or object) of keys to format strings. Empty = Istio's default for the encoding.
   */
  readonly format?: string | Readonly<Record<string, unknown>> | null;
  /** Telemetry `accessLogging[].filter.expression`: only entries it accepts are logged. */
  readonly filter?: string | null;
  /** An envoyFileAccessLog provider's `omitEmptyValues`: '' for unset in TEXT, no null keys in JSON. */
  readonly omitEmptyValues?: boolean;
}

export interface AccessLog {
  /** False when `file` is ''. */
  readonly enabled: boolean;
  /** Log one finished request. Never throws; never blocks on I/O. */
  log(entry: AccessLogEntry): void;
  /** The line an entry would produce (admin endpoints, tests). */
  format(entry: AccessLogEntry): string;
  /** Operators or filters meshlet could not apply. */
  readonly problems: readonly FormatProblem[];
  /**
   * Whether a line or the filter reads request timing (`%RESPONSE_DURATION%`,
   * `%COMMON_DURATION(...)%`, `response.backend_latency`...): only then do the observers
   * note when the response started.
   */
  readonly needsTiming?: boolean;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly dropped: number;
}

/** The line formatter of a log's format and encoding, with the problems of compiling it. */
export function formatterFor(
  options: Pick<AccessLogOptions, 'format' | 'encoding' | 'omitEmptyValues'>,
  problems: FormatProblem[],
): LineFormatter {
  const f = options.format ?? '';
  const omit = options.omitEmptyValues === true;
  if ((options.encoding ?? 'TEXT') === 'JSON') {
    const json: JsonFormat | null =
      typeof f === 'string' ? parseJsonFormat(f) : parseJsonFormat(JSON.stringify(f));
    if (f !== '' && json === null) {
      problems.push({
        operator: typeof f === 'string' ? f : JSON.stringify(f),
        message: "accessLogFormat is not a JSON object of strings; using Istio's default JSON keys",
      });
    }
    return compileJsonFormat(json ?? ISTIO_JSON_FORMAT, problems, omit);
  }
  return compileTextFormat(typeof f === 'string' && f !== '' ? f : ISTIO_TEXT_FORMAT, problems, omit);
}

const TIMING = /%(?:REQUEST|RESPONSE)(?:_TX)?_DURATION%|%COMMON_DURATION\(|backend_latency/;

/** Whether a format or filter reads request timing (the observers then note when parts happened). */
export function readsTiming(text: string | Readonly<Record<string, unknown>> | null | undefined): boolean {
  if (text === null || text === undefined) return false;
  return TIMING.test(typeof text === 'string' ? text : JSON.stringify(text));
}

/**
 * An Envoy-compatible access log: Istio's TEXT line or JSON object per request
 * (meshConfig `accessLogFile`, `accessLogEncoding`, `accessLogFormat`), written through
 * a buffered, non-blocking sink.
 */
export function createAccessLog(options: AccessLogOptions): AccessLog {
  const problems: FormatProblem[] = [];
  const formatter = formatterFor(options, problems);
  let filter: EntryFilter | null = null;
  if (options.filter !== undefined && options.filter !== null && options.filter !== '') {
    const compiled = compileEntryFilter(options.filter);
    filter = compiled.filter;
    if (compiled.problem !== null) problems.push({ operator: options.filter, message: compiled.problem });
  }
  const enabled = options.file !== '';
  const needsTiming = enabled && (readsTiming(options.format) || readsTiming(options.filter));
  let sink: LineSink | null = null;
  const getSink = () => (sink ??= createLineSink(options.file, options));
  const format = (entry: AccessLogEntry) => formatter(entry);
  return {
    enabled,
    problems: Object.freeze(problems),
    needsTiming,
    format,
    log(entry) {
      if (!enabled) return;
      try {
        if (filter !== null && !filter(entry)) return;
        getSink().write(formatter(entry));
      } catch {
        // Telemetry never throws into the application.
      }
    },
    flush: () => (sink === null ? Promise.resolve() : sink.flush()),
    close: () => (sink === null ? Promise.resolve() : sink.close()),
    get dropped() {
      return sink?.dropped ?? 0;
    },
  };
}

/**
 * The access log for one resolved Telemetry / meshConfig spec (see
 * `resolveAccessLogs`): path, encoding, format and filter as the spec names them.
 */
export function createAccessLogFromSpec(
  spec: {
    readonly path: string;
    readonly encoding: 'TEXT' | 'JSON';
    readonly text: string;
    readonly json: string | Readonly<Record<string, unknown>> | null;
    readonly filter: string | null;
    readonly omitEmptyValues?: boolean;
  },
  options: SinkOptions = {},
): AccessLog {
  return createAccessLog({
    ...options,
    file: spec.path,
    encoding: spec.encoding,
    format: spec.encoding === 'JSON' ? spec.json : spec.text,
    filter: spec.filter,
    omitEmptyValues: spec.omitEmptyValues === true,
  });
}
