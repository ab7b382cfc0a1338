import { findExtensionProvider } from '../../config/extension-providers.js';
import type { ExtensionProvider, MeshConfig } from '../../config/mesh-config.js';
import type { ScopedTelemetry } from './telemetry-scope.js';
import { isRecord } from '../../config/validate/is-record.js';

/** One access log meshlet writes in-process (an `envoyFileAccessLog` provider or meshConfig). */
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
}

export interface ResolvedAccessLogs {
  readonly logs: readonly AccessLogSpec[];
  /** Providers that apply but are not file logs meshlet can write (gRPC ALS, OTel logs). */
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
  // The built-in `envoy` provider without its own format uses meshConfig's (telemetryAccessLog).
  if (p.name === 'envoy' && logFormat === null && c['omitEmptyValues'] !== true)
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
    });
  }
  const text = logFormat !== null && typeof logFormat['text'] === 'string' ? logFormat['text'] : '';
  return Object.freeze({ provider: p.name, path, encoding: 'TEXT', text, json: null, filter });
}

/**
 * The access logs a workload writes for one direction (`CLIENT` outbound, `SERVER`
 * inbound). With no Telemetry `accessLogging` in scope, meshConfig `accessLogFile`
 * decides (empty = off). Otherwise providers merge as istiod's `mergeLogs` does
 * (istio `pilot/pkg/model/telemetry.go`): the most specific level naming providers
 * sets the set in scope; each entry's `match.mode`, `disabled` and `filter` apply in
 * order, root first, starting from meshConfig `defaultProviders.accessLogging`.
 */
export function resolveAccessLogs(
  scoped: readonly ScopedTelemetry[],
  mesh: Pick<MeshConfig, 'accessLogFile' | 'accessLogEncoding' | 'accessLogFormat' | 'extensionProviders'> &
    Partial<Pick<MeshConfig, 'defaultProviders'>>,
  mode: 'CLIENT' | 'SERVER',
): ResolvedAccessLogs {
  const defaults = mesh.defaultProviders?.accessLogging ?? [];
  const levels = scoped.map((s) => s.resource.spec.accessLogging ?? []).filter((l) => l.length > 0);
  const modeMatches = (m: string | undefined) => m === undefined || m === 'CLIENT_AND_SERVER' || m === mode;
  const chosen = new Map<string, string | null>();
  if (levels.length === 0) {
    // No Telemetry: meshConfig `defaultProviders.accessLogging`, else the legacy
    // `accessLogFile` (istio pilot/pkg/model/telemetry.go AccessLogging, mergeLogs).
    if (defaults.length === 0) {
      const logs =
        mesh.accessLogFile === '' ? [] : [fromMeshConfig('meshConfig', mesh.accessLogFile, mesh, null)];
      return Object.freeze({ logs: Object.freeze(logs), unsupported: Object.freeze([]) });
    }
    for (const name of defaults) chosen.set(name, null);
  } else {
    let providerNames: readonly string[] = defaults;
    const filters = new Map<string, string | null>();
    for (const level of levels) {
      const names = new Set<string>();
      for (const l of level) {
        // Only entries for this direction name the providers in scope (mergeLogs).
        if (!modeMatches(l.match?.mode)) continue;
        for (const p of l.providers ?? []) {
          names.add(p.name);
          filters.set(p.name, l.filter?.expression ?? null);
        }
      }
      if (names.size > 0) providerNames = [...names];
    }
    const inScope = new Set(providerNames);
    let parent: readonly string[] = defaults;
    for (const level of levels) {
      for (const l of level) {
        const own = (l.providers ?? []).map((p) => p.name);
        const names = own.length === 0 ? parent : own;
        parent = names;
        for (const name of names) {
          if (!inScope.has(name)) continue;
          if (!modeMatches(l.match?.mode)) continue;
          if (l.disabled === true) {
            chosen.delete(name);
            continue;
          }
          chosen.set(name, filters.get(name) ?? null);
        }
      }
    }
  }
  const logs: AccessLogSpec[] = [];
  const unsupported: string[] = [];
  for (const name of [...chosen.keys()].sort()) {
    const p = findExtensionProvider(mesh, name);
    if (p === null) continue;
    if (p.type !== 'envoyFileAccessLog') {
      unsupported.push(`${p.name} (${p.type})`);
      continue;
    }
    logs.push(fromProvider(p, mesh, chosen.get(name) ?? null));
  }
  return Object.freeze({ logs: Object.freeze(logs), unsupported: Object.freeze(unsupported) });
}
