import type { FieldPath } from '../../config/diagnostic.js';
import type { MeshConfig } from '../../config/mesh-config.js';
import { isRecord } from '../../config/validate/is-record.js';
import { formatterFor } from '../access-log/access-log.js';
import { compileTextFormat, type FormatProblem } from '../access-log/format.js';
import type { TelemetryFinding } from './telemetry-findings.js';

/** One finding per problem of compiling a format, at `path`. */
function findings(path: FieldPath, problems: readonly FormatProblem[]): TelemetryFinding[] {
  return problems.map((p) => ({ path, message: p.message }));
}

/**
 * The access-log formats meshlet compiles when a log is built, compiled now, so an operator
 * it cannot print (a `-` where Envoy prints a value) or one Envoy refuses is reported when
 * the config loads, with its field: meshConfig `accessLogFormat` (per `accessLogEncoding`),
 * and the `logFormat` of each `envoyFileAccessLog` and `envoyOtelAls` provider (its `text`,
 * and its `labels`: a JSON log's keys, an OpenTelemetry record's attributes).
 */
export function accessLogFormatFindings(
  mesh: Pick<MeshConfig, 'accessLogFormat' | 'accessLogEncoding' | 'extensionProviders'>,
): TelemetryFinding[] {
  const out: TelemetryFinding[] = [];
  if (mesh.accessLogFormat !== '') {
    const problems: FormatProblem[] = [];
    formatterFor({ format: mesh.accessLogFormat, encoding: mesh.accessLogEncoding }, problems);
    out.push(...findings(['accessLogFormat'], problems));
  }
  mesh.extensionProviders.forEach((p, i) => {
    if (p.type !== 'envoyFileAccessLog' && p.type !== 'envoyOtelAls') return;
    const logFormat = p.config['logFormat'];
    if (!isRecord(logFormat)) return;
    const at: FieldPath = ['extensionProviders', i, p.type, 'logFormat'];
    const text = logFormat['text'];
    if (typeof text === 'string' && text !== '') {
      const problems: FormatProblem[] = [];
      compileTextFormat(text, problems);
      out.push(...findings([...at, 'text'], problems));
    }
    const labels = logFormat['labels'];
    if (isRecord(labels)) {
      const problems: FormatProblem[] = [];
      if (p.type === 'envoyFileAccessLog') formatterFor({ format: labels, encoding: 'JSON' }, problems);
      else for (const v of Object.values(labels)) if (typeof v === 'string') compileTextFormat(v, problems);
      out.push(...findings([...at, 'labels'], problems));
    }
  });
  return out;
}
