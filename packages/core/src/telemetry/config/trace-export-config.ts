import type { ExtensionProvider, MeshConfig } from '../../config/mesh-config.js';
import { findExtensionProvider } from '../../config/extension-providers.js';
import { providerOrigin } from '../../config/provider-endpoint.js';
import { parseGoDuration } from '../../config/validate/duration.js';
import { isRecord } from '../../config/validate/is-record.js';

/** Where meshlet's own TracerProvider sends the spans of one direction. */
export interface TraceExport {
  /** The extension provider's name. */
  readonly provider: string;
  /**
   * `otlp-http` (an `opentelemetry` provider with `http`), `otlp-grpc` (an
   * `opentelemetry` provider without `http`: Istio's default is gRPC), `zipkin`.
   */
  readonly protocol: 'otlp-http' | 'otlp-grpc' | 'zipkin';
  readonly url: string;
  /** `http.headers` / `grpc.initialMetadata`, values from `value` or the `envName` variable. */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** A provider that applies but cannot be exported to, and why. */
export interface TraceExportProblem {
  readonly provider: string;
  readonly problem: string;
  /** True when Istio reports nothing for this direction (an undefined provider). */
  readonly disablesReporting: boolean;
}

/** Istio's OpenTelemetry `HttpService.timeout` default (istio/api config.proto). */
const OTLP_HTTP_TIMEOUT_MS = 3000;
/** The OpenTelemetry SDK's export timeout, for gRPC and Zipkin where Istio sets none. */
const SDK_TIMEOUT_MS = 10_000;

function headerList(v: unknown, field: string, env: NodeJS.ProcessEnv): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!Array.isArray(v)) throw new Error(`${field} must be a list of {name, value | envName}`);
  const out: Record<string, string> = {};
  for (const h of v) {
    if (!isRecord(h) || typeof h['name'] !== 'string' || h['name'] === '')
      throw new Error(`every ${field} entry needs a name`);
    const value =
      typeof h['value'] === 'string'
        ? h['value']
        : typeof h['envName'] === 'string'
          ? (env[h['envName']] ?? '')
          : null;
    if (value === null) throw new Error(`${field} ${JSON.stringify(h['name'])} needs a value or an envName`);
    out[h['name'].toLowerCase()] = value;
  }
  return out;
}

function timeout(v: unknown, field: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  const ms = typeof v === 'string' ? parseGoDuration(v) : null;
  if (ms === null || ms <= 0)
    throw new Error(`${field} ${JSON.stringify(v)} is not a duration (use e.g. "10s")`);
  return ms;
}

function fromProvider(p: ExtensionProvider, env: NodeJS.ProcessEnv): TraceExport {
  const c = p.config;
  // Istio reaches port 443 over TLS through a DestinationRule (its own example); without
  // the mesh's Envoy in between, meshlet speaks TLS itself there.
  const scheme = c['port'] === 443 || c['port'] === '443' ? 'https' : 'http';
  const origin = providerOrigin(c, scheme);
  if (p.type === 'zipkin') {
    const path = typeof c['path'] === 'string' && c['path'] !== '' ? c['path'] : '/api/v2/spans';
    return Object.freeze({
      provider: p.name,
      protocol: 'zipkin',
      url: `${origin}${path.startsWith('/') ? path : `/${path}`}`,
      headers: Object.freeze(headerList(c['headers'], 'headers', env)),
      timeoutMs: timeout(c['timeout'], 'timeout', SDK_TIMEOUT_MS),
    });
  }
  const http = c['http'];
  if (isRecord(http)) {
    const path = typeof http['path'] === 'string' && http['path'] !== '' ? http['path'] : '/v1/traces';
    return Object.freeze({
      provider: p.name,
      protocol: 'otlp-http',
      url: `${origin}${path.startsWith('/') ? path : `/${path}`}`,
      headers: Object.freeze(headerList(http['headers'], 'http.headers', env)),
      timeoutMs: timeout(http['timeout'], 'http.timeout', OTLP_HTTP_TIMEOUT_MS),
    });
  }
  const grpc = isRecord(c['grpc']) ? c['grpc'] : {};
  return Object.freeze({
    provider: p.name,
    protocol: 'otlp-grpc',
    url: origin,
    headers: Object.freeze(headerList(grpc['initialMetadata'], 'grpc.initialMetadata', env)),
    timeoutMs: timeout(grpc['timeout'], 'grpc.timeout', SDK_TIMEOUT_MS),
  });
}

/**
 * The export target of the tracing provider in force (`TracingSpec.provider`), looked
 * up case-insensitively in meshConfig `extensionProviders` as istiod's fetchProvider
 * does. `opentelemetry` and `zipkin` providers are exported to; null when no provider
 * is named (the process's TracerProvider and `OTEL_*` decide).
 */
export function resolveTraceExport(
  mesh: Pick<MeshConfig, 'extensionProviders'>,
  name: string | null,
  env: NodeJS.ProcessEnv = process.env,
): TraceExport | TraceExportProblem | null {
  if (name === null) return null;
  const p = findExtensionProvider(mesh, name);
  if (p === null)
    return Object.freeze({
      provider: name,
      problem: `tracing provider ${JSON.stringify(name)} is not defined in meshConfig extensionProviders: Istio reports no spans for it`,
      disablesReporting: true,
    });
  if (p.type !== 'opentelemetry' && p.type !== 'zipkin')
    return Object.freeze({
      provider: p.name,
      problem: `tracing provider ${JSON.stringify(p.name)} is ${p.type}; meshlet exports to opentelemetry and zipkin providers only, so its spans go to the process's TracerProvider (OTEL_* settings)`,
      disablesReporting: false,
    });
  try {
    return fromProvider(p, env);
  } catch (err) {
    return Object.freeze({
      provider: p.name,
      problem: `tracing provider ${JSON.stringify(p.name)}: ${err instanceof Error ? err.message : String(err)}`,
      disablesReporting: true,
    });
  }
}

export const isTraceExport = (r: TraceExport | TraceExportProblem | null): r is TraceExport =>
  r !== null && 'protocol' in r;
