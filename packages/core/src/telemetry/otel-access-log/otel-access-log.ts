import { emptyResource } from '@opentelemetry/resources';
import { readsTiming, type AccessLog } from '../access-log/access-log.js';
import type { AccessLogEntry } from '../access-log/entry.js';
import { compileEntryFilter, type EntryFilter } from '../access-log/filter.js';
import type { FormatProblem } from '../access-log/format.js';
import type { OtelAccessLogSpec } from '../config/access-log-config.js';
import { providerOrigin } from '../../config/provider-endpoint.js';
import { LogBatcher, type LogBatcherOptions } from './log-batcher.js';
import { grpcLogsExporter, type LogsExporter, type OtlpLogRecord } from './logs-exporter.js';
import { compileOtelRecord, type OtelLogContent } from './otel-log-record.js';

export interface OtelAccessLogOptions extends LogBatcherOptions {
  /** The exporter for the collector's `http://host:port`; default OTLP/gRPC. */
  readonly exporter?: (url: string) => LogsExporter;
}

// istiod sets DisableBuiltinLabels and no resource attributes (telemetry_logging.go
// buildOpenTelemetryAccessLogConfig), so Envoy sends an empty resource, and no scope
// (open_telemetry/otlp_log_utils.cc initOtlpMessageRoot).
const RESOURCE = emptyResource();
const SCOPE = Object.freeze({ name: '' });

function hrTime(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function toRecord(c: OtelLogContent): OtlpLogRecord {
  return {
    hrTime: hrTime(c.startTime),
    // Envoy leaves observed_time_unix_nano unset (0).
    hrTimeObserved: [0, 0],
    body: c.body,
    attributes: c.attributes,
    droppedAttributesCount: 0,
    resource: RESOURCE,
    instrumentationScope: SCOPE,
    // Envoy sets trace_id and span_id only (no flags); a missing span id is sent as none.
    ...(c.traceId === null
      ? {}
      : { spanContext: { traceId: c.traceId, spanId: c.spanId ?? '', traceFlags: 0 } }),
  };
}

/** The record's approximate encoded size, for Envoy's buffer limit. */
function sizeOf(c: OtelLogContent): number {
  let n = 48 + c.body.length;
  for (const [k, v] of Object.entries(c.attributes)) n += 8 + k.length + v.length;
  return n;
}

/**
 * An `envoyOtelAls` provider's access log: for each entry its filter accepts, one OTLP
 * LogRecord as Envoy's OpenTelemetry access logger builds it, batched and exported over
 * OTLP/gRPC to the provider's `service:port`. Never throws into a request, never blocks.
 */
export function createOtelAccessLog(spec: OtelAccessLogSpec, options: OtelAccessLogOptions = {}): AccessLog {
  const problems: FormatProblem[] = [];
  const record = compileOtelRecord(spec, problems);
  let filter: EntryFilter | null = null;
  if (spec.filter !== null && spec.filter !== '') {
    const compiled = compileEntryFilter(spec.filter);
    filter = compiled.filter;
    if (compiled.problem !== null) problems.push({ operator: spec.filter, message: compiled.problem });
  }
  let url: string | null = null;
  try {
    url = providerOrigin({ service: spec.service, port: spec.port });
  } catch (e) {
    // Istio builds no access logger when it cannot find the provider's cluster.
    problems.push({
      operator: spec.provider,
      message: `envoyOtelAls provider ${JSON.stringify(spec.provider)}: ${(e as Error).message}; nothing is logged`,
    });
  }
  const enabled = url !== null;
  const exporter = options.exporter ?? grpcLogsExporter;
  const batcher = new LogBatcher(() => exporter(url as string), options);
  const needsTiming =
    enabled && [spec.text, spec.filter, ...spec.labels.map(([, f]) => f)].some((f) => readsTiming(f));
  return {
    enabled,
    problems: Object.freeze(problems),
    needsTiming,
    format: (entry: AccessLogEntry) => record(entry).body,
    log(entry) {
      if (!enabled) return;
      try {
        if (filter !== null && !filter(entry)) return;
        const content = record(entry);
        batcher.add(toRecord(content), sizeOf(content));
      } catch {
        // Telemetry never throws into the application.
      }
    },
    flush: () => batcher.flush(),
    close: () => batcher.close(),
    get dropped() {
      return batcher.dropped;
    },
  };
}
