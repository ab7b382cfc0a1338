import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import type { TracingSpec } from '../telemetry/config/tracing-config.js';
import type { TagExpressionProblem } from '../telemetry/metrics/tag-expression.js';

/** One direction's tracing as `/config_dump` shows it; export header values are left out (they are often credentials). */
export interface TracingDump extends Omit<TracingSpec, 'export'> {
  readonly export: {
    readonly provider: string;
    readonly protocol: string;
    readonly url: string;
    readonly headerNames: readonly string[];
    readonly timeoutMs: number;
  } | null;
}

/** The telemetry in force: what a reload last resolved for metrics, tracing and access logs. */
export interface TelemetryDump {
  readonly metrics: {
    readonly enabled: boolean;
    readonly tagOverrideProblems: readonly TagExpressionProblem[];
  };
  readonly tracing: {
    readonly client: TracingDump;
    readonly server: TracingDump;
    /** False when the application's TracerProvider records the spans. */
    readonly ownProvider: boolean;
    /** Where meshlet's own provider sends spans now (`provider:<name>`, `otlp`, `console`). */
    readonly exporters: readonly string[];
    readonly requestContext: boolean;
  };
  readonly accessLog: { readonly client: boolean; readonly server: boolean };
}

function tracingDump(spec: TracingSpec): TracingDump {
  const e = spec.export;
  return {
    ...spec,
    export:
      e === null
        ? null
        : {
            provider: e.provider,
            protocol: e.protocol,
            url: e.url,
            headerNames: Object.keys(e.headers),
            timeoutMs: e.timeoutMs,
          },
  };
}

/** `/config_dump`'s `telemetry` section for a mesh's telemetry bundle. */
export function telemetryDump(t: MeshTelemetry): TelemetryDump {
  return {
    metrics: {
      enabled: t.metrics.enabled,
      tagOverrideProblems: t.metrics.problems,
    },
    tracing: {
      client: tracingDump(t.tracing.config.client),
      server: tracingDump(t.tracing.config.server),
      ownProvider: t.tracing.ownsProvider,
      exporters: t.tracing.exporters,
      requestContext: t.requestContext,
    },
    accessLog: { client: t.accessLog.client.enabled, server: t.accessLog.server.enabled },
  };
}
