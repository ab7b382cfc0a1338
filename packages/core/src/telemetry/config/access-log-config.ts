import { findExtensionProvider } from '../../config/extension-providers.js';
import type { ExtensionProvider, MeshConfig } from '../../config/mesh-config.js';
import type { ScopedTelemetry } from './telemetry-scope.js';
import { mergeLogs, type MergedLog } from './merge-logs.js';
import { isRecord } from '../../config/validate/is-record.js';
import { ISTIO_TEXT_FORMAT } from '../access-log/formats.js';

/** One file access log meshlet writes in-process (an `envoyFileAccessLog` provider or meshConfig). */
export interface AccessLogSpec {
  /** Provider name; `meshConfig` for the legacy `accessLogFile` setting. */
  readonly provider: string;
  readonly path: string;
  readonly encoding: 'TEXT' | 'JSON';
  /** TEXT format string, '' for Istio's default. */
  readonly text: string;
  /** JSON labels (raw text for meshConfig, an object for a provider); null for Istio's default keys. */
  readonly json: string | Readonly<Record<string, unknown>> | null;
  /** `accessLogging[].filter.expression`, or null. */
  readonly filter: string | null;
  /** The provider's `omitEmptyValues` (false for meshConfig's own log). */
  readonly omitEmptyValues: boolean;
}

/**
 * An `envoyOtelAls` provider as istiod configures Envoy's OpenTelemetry access logger
 * (istio pilot/pkg/model/telemetry_logging.go `openTelemetryLog`,
 * `buildOpenTelemetryAccessLogConfig`): one OTLP LogRecord per request, sent over gRPC.
 */
export interface OtelAccessLogSpec {
  readonly kind: 'otel';
  readonly provider: string;
  /** `[<Namespace>/]<Hostname>` of the collector. */
  readonly service: string;
  readonly port: number;
  /** `logName`, default `otel_envoy_accesslog` (OtelEnvoyAccessLogFriendlyName). */
  readonly logName: string;
  /** The LogRecord body's format: `logFormat.text`, else Istio's text format (EnvoyTextLogFormat). */
  readonly text: string;
  /** `logFormat.labels` as attribute formats, keys sorted; a non-string value is ''. */
  readonly labels: readonly (readonly [string, string])[];
  /** `accessLogging[].filter.expression`, or null. */
  readonly filter: string | null;
}

export interface ResolvedAccessLogs {
  readonly logs: readonly AccessLogSpec[];
  /** `envoyOtelAls` providers, sent as OTLP logs. */
  readonly otel: readonly OtelAccessLogSpec[];
  /** Providers that apply but meshlet cannot write (Envoy gRPC ALS: `envoyHttpAls`, `envoyTcpAls`). */
  readonly unsupported: readonly string[];
}

function fromMeshConfig(
  provider: string,
  path: string,
  mesh: Pick<MeshConfig, 'accessLogEncoding' | 'accessLogFormat'>,
  filter: string | null,
): AccessLogSpec {
  return Object.freeze({
    provider,
    path,
    encoding: mesh.accessLogEncoding,
    text: mesh.accessLogEncoding === 'TEXT' ? mesh.accessLogFormat : '',
    json: mesh.accessLogEncoding === 'JSON' && mesh.accessLogFormat !== '' ? mesh.accessLogFormat : null,
    filter,
    omitEmptyValues: false,
  });
}

function fromProvider(
  p: ExtensionProvider,
  mesh: Pick<MeshConfig, 'accessLogEncoding' | 'accessLogFormat'>,
  filter: string | null,
): AccessLogSpec {
  const c = p.config;
  const path = typeof c['path'] === 'string' && c['path'] !== '' ? c['path'] : '/dev/stdout';
  const logFormat = isRecord(c['logFormat']) ? c['logFormat'] : null;
  const omitEmptyValues = c['omitEmptyValues'] === true;
  // The built-in `envoy` provider without its own format uses meshConfig's (telemetryAccessLog).
  if (p.name === 'envoy' && logFormat === null && !omitEmptyValues)
    return fromMeshConfig(p.name, path, mesh, filter);
  if (logFormat !== null && isRecord(logFormat['labels'])) {
    const labels = logFormat['labels'];
    return Object.freeze({
      provider: p.name,
      path,
      encoding: 'JSON',
      text: '',
      json: Object.keys(labels).length === 0 ? null : labels,
      filter,
      omitEmptyValues,
    });
  }
  const text = logFormat !== null && typeof logFormat['text'] === 'string' ? logFormat['text'] : '';
  return Object.freeze({
    provider: p.name,
    path,
    encoding: 'TEXT',
    text,
    json: null,
    filter,
    omitEmptyValues,
  });
}

/** telemetry_logging.go OtelEnvoyAccessLogFriendlyName: the `logName` when the provider sets none. */
export const OTEL_DEFAULT_LOG_NAME = 'otel_envoy_accesslog';

function fromOtelProvider(p: ExtensionProvider, filter: string | null): OtelAccessLogSpec {
  const c = p.config;
  const logFormat = isRecord(c['logFormat']) ? c['logFormat'] : null;
  const text = logFormat !== null && typeof logFormat['text'] === 'string' ? logFormat['text'] : '';
  const rawLabels = logFormat !== null && isRecord(logFormat['labels']) ? logFormat['labels'] : {};
  // ConvertStructToAttributeKeyValues: keys sorted, each value's GetStringValue() ('' unless a string).
  const labels = Object.keys(rawLabels)
    .sort()
    .map((k) => {
      const v = rawLabels[k];
      return Object.freeze([k, typeof v === 'string' ? v : ''] as const);
    });
  const port = typeof c['port'] === 'string' ? Number(c['port']) : c['port'];
  return Object.freeze({
    kind: 'otel',
    provider: p.name,
    service: typeof c['service'] === 'string' ? c['service'] : '',
    port: typeof port === 'number' ? port : 0,
    logName: typeof c['logName'] === 'string' && c['logName'] !== '' ? c['logName'] : OTEL_DEFAULT_LOG_NAME,
    // openTelemetryLog: an empty text means Istio's EnvoyTextLogFormat, newline included.
    text: text !== '' ? text : ISTIO_TEXT_FORMAT,
    labels: Object.freeze(labels),
    filter,
  });
}

/** Provider types istiod builds an access logger for (model/telemetry_logging.go telemetryAccessLog). */
const LOGGER_TYPES: readonly string[] = ['envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls'];

/**
 * The access logs a workload writes for one direction (`CLIENT` outbound, `SERVER`
 * inbound), as istiod's `Telemetries.AccessLogging` and accesslog.go build them
 * (istio `pilot/pkg/model/telemetry.go`, `pilot/pkg/networking/core/accesslog.go`):
 * providers merge as `mergeLogs` does (see merge-logs.ts); providers that are not
 * defined or log nothing are dropped; when none is left the legacy meshConfig
 * `accessLogFile` applies (empty = off). A disabled provider counts as configured, so
 * it turns the legacy log off; an entry that disables logging without naming (or
 * inheriting) a provider does not.
 */
export function resolveAccessLogs(
  scoped: readonly ScopedTelemetry[],
  mesh: Pick<MeshConfig, 'accessLogFile' | 'accessLogEncoding' | 'accessLogFormat' | 'extensionProviders'> &
    Partial<Pick<MeshConfig, 'defaultProviders'>>,
  mode: 'CLIENT' | 'SERVER',
): ResolvedAccessLogs {
  const defaults = mesh.defaultProviders?.accessLogging ?? [];
  const levels = scoped.map((s) => s.resource.spec.accessLogging ?? []).filter((l) => l.length > 0);
  const configured: { provider: ExtensionProvider; merged: MergedLog }[] = [];
  for (const [name, merged] of mergeLogs(levels, defaults, mode)) {
    const provider = findExtensionProvider(mesh, name);
    if (provider !== null && LOGGER_TYPES.includes(provider.type)) configured.push({ provider, merged });
  }
  if (configured.length === 0) {
    // accesslog.go: no Telemetry access log config, fall back to the legacy setting.
    const logs =
      mesh.accessLogFile === '' ? [] : [fromMeshConfig('meshConfig', mesh.accessLogFile, mesh, null)];
    return Object.freeze({
      logs: Object.freeze(logs),
      otel: Object.freeze([]),
      unsupported: Object.freeze([]),
    });
  }
  // Sorted by provider name, as AccessLogging sorts its result.
  configured.sort((a, b) =>
    a.provider.name < b.provider.name ? -1 : a.provider.name > b.provider.name ? 1 : 0,
  );
  const logs: AccessLogSpec[] = [];
  const otel: OtelAccessLogSpec[] = [];
  const unsupported: string[] = [];
  for (const { provider: p, merged } of configured) {
    if (merged.disabled) continue;
    if (p.type === 'envoyFileAccessLog') logs.push(fromProvider(p, mesh, merged.filter));
    else if (p.type === 'envoyOtelAls') otel.push(fromOtelProvider(p, merged.filter));
    else unsupported.push(`${p.name} (${p.type})`);
  }
  return Object.freeze({
    logs: Object.freeze(logs),
    otel: Object.freeze(otel),
    unsupported: Object.freeze(unsupported),
  });
}
