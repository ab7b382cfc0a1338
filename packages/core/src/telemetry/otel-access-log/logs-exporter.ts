import { createRequire } from 'node:module';
import type { ExportResult } from '@opentelemetry/core';
import type { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';

/** The LogRecord shape the OTLP exporters take (@opentelemetry/sdk-logs ReadableLogRecord). */
export type OtlpLogRecord = Parameters<OTLPLogExporter['export']>[0][number];

/** What the OTel access log needs of an exporter (OTLPLogExporter; tests may pass their own). */
export interface LogsExporter {
  export(records: OtlpLogRecord[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

// The gRPC exporter (and @grpc/grpc-js under it) is loaded only when an envoyOtelAls
// provider first logs, as the trace exporters are (tracing/provider-exporter.ts).
const load = createRequire(import.meta.url);

/** An OTLP/gRPC logs exporter to `url` (`http://host:port`), as Envoy's OpenTelemetry access logger sends. */
export function grpcLogsExporter(url: string): LogsExporter {
  const { OTLPLogExporter: Exporter } = load('@opentelemetry/exporter-logs-otlp-grpc') as {
    OTLPLogExporter: typeof OTLPLogExporter;
  };
  return new Exporter({ url });
}
