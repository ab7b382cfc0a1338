import type { TelemetrySpec } from '../../config/schema/telemetry.js';
import type { FieldPath } from '../../config/diagnostic.js';
import { compileEntryFilter } from '../access-log/filter.js';
import { isPrometheusLabelName } from '../metrics/label-plan.js';
import { compileTagExpression } from '../metrics/tag-expression.js';
import { HTTP_METRICS, STATS_METRIC_NAMES, TCP_METRICS } from './metrics-config.js';

/** Something a Telemetry asks for that meshlet cannot evaluate or match in-process. */
export interface TelemetryFinding {
  readonly path: FieldPath;
  readonly message: string;
}

/** Names a customMetric can match: the IstioMetric and stats names of what meshlet records. */
const RECORDED = [...HTTP_METRICS, ...TCP_METRICS];
const KNOWN_METRICS: ReadonlySet<string> = new Set([
  ...RECORDED,
  ...RECORDED.map((m) => STATS_METRIC_NAMES[m]),
]);

/**
 * The parts of a Telemetry spec meshlet evaluates itself and cannot apply as written:
 * tagOverrides values that do not parse (istio_stats drops the tag), that Envoy's CEL
 * planner refuses (Envoy rejects the stats config; meshlet ignores the override) or that
 * read what meshlet cannot evaluate (the tag reads `unknown`); tag names Prometheus
 * refuses (the tag is ignored); customMetric names matching no metric meshlet records (no
 * effect); access-log filters Envoy would reject or meshlet cannot evaluate (every request
 * is logged). Istio hands all of these to Envoy (model/telemetry.go generateStatsConfig,
 * networking/core/accesslog.go buildAccessLogFilterFromTelemetry).
 */
export function telemetryFindings(spec: TelemetrySpec): TelemetryFinding[] {
  const out: TelemetryFinding[] = [];
  spec.metrics?.forEach((m, i) =>
    m.overrides?.forEach((o, j) => {
      const at: FieldPath = ['spec', 'metrics', i, 'overrides', j];
      const custom = o.match?.customMetric;
      if (custom !== undefined && !KNOWN_METRICS.has(custom)) {
        out.push({
          path: [...at, 'match', 'customMetric'],
          message: `customMetric ${JSON.stringify(custom)} names no metric meshlet records (it records ${RECORDED.map((h) => STATS_METRIC_NAMES[h]).join(', ')}); this override has no effect`,
        });
      }
      for (const [name, t] of Object.entries(o.tagOverrides ?? {})) {
        if (!isPrometheusLabelName(name)) {
          out.push({
            path: [...at, 'tagOverrides', name],
            message: `tag name ${JSON.stringify(name)} is not a valid Prometheus label name; meshlet ignores this tag override`,
          });
          continue;
        }
        if (t.operation === 'REMOVE') continue;
        const { problem } = compileTagExpression(t.value ?? '');
        if (problem !== null)
          out.push({ path: [...at, 'tagOverrides', name, 'value'], message: problem.message });
      }
    }),
  );
  spec.accessLogging?.forEach((l, i) => {
    const expression = l.filter?.expression;
    if (expression === undefined || expression === '') return;
    const { problem } = compileEntryFilter(expression);
    if (problem !== null)
      out.push({ path: ['spec', 'accessLogging', i, 'filter', 'expression'], message: problem });
  });
  return out;
}
