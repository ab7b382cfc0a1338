import type { AccessLogEntry } from '../access-log/entry.js';
import { compileTextFormat, type FormatProblem, type LineFormatter } from '../access-log/format.js';

/** What one access-log entry becomes in an OTLP LogRecord. */
export interface OtelLogContent {
  /** `time_unix_nano`: the request's start, epoch ms. */
  readonly startTime: number;
  /** The body's string value. */
  readonly body: string;
  /** String attributes, in the order of the provider's sorted labels. */
  readonly attributes: Readonly<Record<string, string>>;
  /** 32 hex digits, or null without an active trace. */
  readonly traceId: string | null;
  /** 16 hex digits, or null. */
  readonly spanId: string | null;
}

/**
 * A format string rendered as Envoy's OpenTelemetry formatter does (envoy
 * source/extensions/access_loggers/open_telemetry/substitution_formatter.cc): the operators
 * substituted, `-` for an unset value, and no newline added. compileTextFormat appends one
 * to a format without it, so that one is taken off again.
 */
function otelFormatter(format: string, problems: FormatProblem[]): LineFormatter {
  const line = compileTextFormat(format, problems, false);
  if (format.endsWith('\n')) return line;
  return (entry) => {
    const s = line(entry);
    return s.endsWith('\n') ? s.slice(0, -1) : s;
  };
}

const HEX_TRACE = /^[0-9a-f]{32}$/i;
const HEX_SHORT_TRACE = /^[0-9a-f]{16}$/i;
const HEX_SPAN = /^[0-9a-f]{16}$/i;

/**
 * Envoy's populateTraceContext (open_telemetry/otlp_log_utils.cc): a 128-bit trace id as
 * is, a 64-bit one (Zipkin) padded to 128 bits with leading zeros, anything else none.
 */
export function otlpTraceId(hex: string | null | undefined): string | null {
  if (hex === null || hex === undefined) return null;
  if (HEX_TRACE.test(hex)) return hex.toLowerCase();
  if (HEX_SHORT_TRACE.test(hex)) return `${'0'.repeat(16)}${hex.toLowerCase()}`;
  return null;
}

/**
 * Compiles the LogRecord Envoy's OpenTelemetry access logger emits for a request
 * (open_telemetry/access_log_impl.cc `emitLog`): time from the stream's start, the body
 * format applied, each attribute's format applied, and the active span's trace context.
 */
export function compileOtelRecord(
  spec: { readonly text: string; readonly labels: readonly (readonly [string, string])[] },
  problems: FormatProblem[],
): (entry: AccessLogEntry) => OtelLogContent {
  const body = otelFormatter(spec.text, problems);
  const attributes = spec.labels.map(([key, format]) => [key, otelFormatter(format, problems)] as const);
  return (entry: AccessLogEntry) => {
    const attrs: Record<string, string> = {};
    for (const [key, format] of attributes) attrs[key] = format(entry);
    const traceId = otlpTraceId(entry.traceId);
    const spanId =
      traceId !== null && typeof entry.spanId === 'string' && HEX_SPAN.test(entry.spanId)
        ? entry.spanId.toLowerCase()
        : null;
    return { startTime: entry.startTime, body: body(entry), attributes: attrs, traceId, spanId };
  };
}
