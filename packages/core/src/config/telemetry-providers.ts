import type { TelemetrySpec } from './schema/telemetry.js';
import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { Diagnostic, FieldPath } from './diagnostic.js';
import { formatPath } from './diagnostic.js';
import { toDiagnostic } from './documents.js';
import { findExtensionProvider } from './extension-providers.js';
import type { MeshConfig } from './mesh-config.js';
import type { Resource } from './resource.js';
import { accessLogFormatFindings } from '../telemetry/config/access-log-format-findings.js';
import { telemetryFindings } from '../telemetry/config/telemetry-findings.js';

type Signal = 'tracing' | 'metrics' | 'accessLogging';

/**
 * The extension provider types meshlet acts on in-process, per Telemetry signal:
 * spans are exported to opentelemetry and zipkin providers, metrics are the
 * prometheus registry, access logs are envoyFileAccessLog files and envoyOtelAls OTLP
 * logs (telemetry/otel-access-log/).
 */
const ACTED_ON: Record<Signal, readonly string[]> = {
  tracing: ['opentelemetry', 'zipkin'],
  metrics: ['prometheus'],
  accessLogging: ['envoyFileAccessLog', 'envoyOtelAls'],
};

const WHAT_HAPPENS: Record<Signal, string> = {
  tracing: "its spans go to the process's TracerProvider (OTEL_* settings)",
  metrics: 'meshlet records no metrics for it',
  accessLogging: 'meshlet writes no access log for it',
};

function problem(mesh: Pick<MeshConfig, 'extensionProviders'>, signal: Signal, name: string): string | null {
  const p = findExtensionProvider(mesh, name);
  if (p === null)
    return signal === 'tracing'
      ? `tracing provider ${JSON.stringify(name)} is not defined in meshConfig extensionProviders: Istio then reports no spans where it applies, and neither does meshlet`
      : `${signal} provider ${JSON.stringify(name)} is not defined in meshConfig extensionProviders: Istio ignores it, and so does meshlet`;
  if (!ACTED_ON[signal].includes(p.type))
    return `${signal} provider ${JSON.stringify(p.name)} is ${p.type}, which meshlet does not run in-process (it acts on ${ACTED_ON[signal].join(', ')}): ${WHAT_HAPPENS[signal]}`;
  return null;
}

/**
 * Warnings for Telemetry `providers` and meshConfig `defaultProviders` names that are
 * undefined or of a type meshlet does not act on, so a provider that would silently
 * do nothing is reported with its file and line (`meshlet analyze` prints them); then
 * the Telemetry fields meshlet cannot evaluate in-process (telemetry-findings.ts).
 */
export function telemetryProviderDiagnostics(
  resources: readonly Resource[],
  mesh: Pick<MeshConfig, 'extensionProviders' | 'defaultProviders' | 'accessLogFormat' | 'accessLogEncoding'>,
): Diagnostic[] {
  // meshConfig fields: the mesh config carries no file or line.
  const meshWarning = (path: FieldPath, message: string): Diagnostic => ({
    code: DIAGNOSTIC_CODES.unsupported,
    level: 'Warning',
    file: null,
    line: null,
    column: null,
    path: formatPath(path),
    message,
  });
  const out: Diagnostic[] = accessLogFormatFindings(mesh).map((f) => meshWarning(f.path, f.message));
  for (const signal of ['tracing', 'metrics', 'accessLogging'] as const) {
    mesh.defaultProviders[signal].forEach((name, i) => {
      const message = problem(mesh, signal, name);
      if (message !== null) out.push(meshWarning(['defaultProviders', signal, i], message));
    });
  }
  for (const r of resources) {
    if (r.kind !== 'Telemetry') continue;
    const spec = r.spec as TelemetrySpec;
    for (const signal of ['tracing', 'metrics', 'accessLogging'] as const) {
      (spec[signal] ?? []).forEach((entry, i) => {
        (entry.providers ?? []).forEach((ref, j) => {
          const message = problem(mesh, signal, ref.name);
          if (message === null) return;
          out.push(
            toDiagnostic(
              {
                code: DIAGNOSTIC_CODES.unsupported,
                level: 'Warning',
                path: ['spec', signal, i, 'providers', j, 'name'],
                message,
              },
              r.origin.file,
              r.origin,
              { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
            ),
          );
        });
      });
    }
  }
  for (const r of resources) {
    if (r.kind !== 'Telemetry') continue;
    for (const f of telemetryFindings(r.spec as TelemetrySpec)) {
      out.push(
        toDiagnostic(
          { code: DIAGNOSTIC_CODES.unsupported, level: 'Warning', path: f.path, message: f.message },
          r.origin.file,
          r.origin,
          { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
        ),
      );
    }
  }
  return out;
}
