import { DIAGNOSTIC_CODES } from '../diagnostic-codes.js';
import { RE2JS } from 're2js';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type { EnvoyConfigObjectPatch, EnvoyFilterSpec } from './envoy-filter.js';
import { scanEnvoyFilter } from './local-rate-limit-patches.js';
import { MAX_PROXY_VERSION_LEN } from './local-rate-limit-scope.js';
import { unappliedLocalRateLimit } from './local-rate-limit-unapplied.js';

const HCM = ['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager'];

/**
 * Webhook rules of istio pkg/config/validation/envoyfilter/envoyfilter.go, then
 * what meshlet does with each patch: a local or global rate limit config, route and virtual
 * host `rate_limits` and an added cluster are validated in depth (Errors at their fields);
 * any other patch is an unsupported-feature warning (MESHLET0004).
 */
export function validateEnvoyFilter(spec: EnvoyFilterSpec, ctx: ValidationContext): void {
  const labels = spec.workloadSelector?.labels;
  if (spec.workloadSelector !== undefined) {
    for (const key of Object.keys(labels ?? {})) {
      if (key === '')
        ctx.error(['spec', 'workloadSelector', 'labels', key], 'empty key is not supported in selector');
      if (key.includes('*'))
        ctx.error(['spec', 'workloadSelector', 'labels', key], 'wildcard is not supported in selector');
    }
    if (Object.keys(labels ?? {}).length === 0) {
      ctx.warn(
        ['spec', 'workloadSelector'],
        'Envoy filter: workload selector specified without labels, will be applied to all services in namespace',
      );
    }
  }
  // Reserved in istio/api envoy_filter.proto; Istio's lenient decoding drops them.
  if (spec.workloadLabels !== undefined) {
    ctx.warn(
      ['spec', 'workloadLabels'],
      'workloadLabels was removed from EnvoyFilter and is ignored; use workloadSelector',
      'IST0002',
    );
  }
  if (spec.filters !== undefined) {
    ctx.warn(
      ['spec', 'filters'],
      'filters was removed from EnvoyFilter and is ignored; use configPatches',
      'IST0002',
    );
  }
  spec.configPatches?.forEach((cp, i) => checkPatch(cp, ['spec', 'configPatches', i], ctx));

  const scan = scanEnvoyFilter(spec);
  for (const p of scan.errors) ctx.error(p.path, p.message);
  for (const p of scan.warnings) ctx.warn(p.path, p.message, DIAGNOSTIC_CODES.unsupported);
  for (const u of scan.unsupported) ctx.warn(u.path, u.reason, DIAGNOSTIC_CODES.unsupported);
  for (const p of scan.notices) ctx.warn(p.path, p.message, DIAGNOSTIC_CODES.surprising);
  // An HTTP_ROUTE patch yields one entry per per-filter config; its match is warned once.
  const warned = new Set<number>();
  for (const p of [...scan.patches, ...scan.globals, ...scan.rateLimits]) {
    if (warned.has(p.index)) continue;
    warned.add(p.index);
    for (const w of unappliedLocalRateLimit(p)) ctx.warn(w.path, w.message, DIAGNOSTIC_CODES.unsupported);
  }
}

function checkPatch(cp: EnvoyConfigObjectPatch, path: FieldPath, ctx: ValidationContext): void {
  // envoyfilter.go skips every other check for waypoint patches (a TODO upstream).
  if (cp.match?.context === 'WAYPOINT') return;
  if (cp.applyTo === undefined || cp.applyTo === 'INVALID') {
    ctx.error([...path, 'applyTo'], 'Envoy filter: missing applyTo');
    return;
  }
  if (cp.patch === undefined) {
    ctx.error([...path, 'patch'], 'Envoy filter: missing patch');
    return;
  }
  if (cp.patch.operation === undefined || cp.patch.operation === 'INVALID') {
    ctx.error([...path, 'patch', 'operation'], 'Envoy filter: missing patch operation');
    return;
  }
  if (cp.patch.operation !== 'REMOVE' && cp.patch.value === undefined) {
    ctx.error([...path, 'patch', 'value'], 'Envoy filter: missing patch value for non-remove operation');
    return;
  }
  const version = cp.match?.proxy?.proxyVersion;
  if (version !== undefined && version !== '') {
    const vpath = [...path, 'match', 'proxy', 'proxyVersion'];
    if (version.length > MAX_PROXY_VERSION_LEN) {
      ctx.warn(
        vpath,
        `Envoy filter: proxyVersion match exceeds ${MAX_PROXY_VERSION_LEN} characters and will be ignored`,
      );
    } else {
      try {
        RE2JS.compile(version);
      } catch (err) {
        ctx.error(
          vpath,
          `Envoy filter: invalid regex for proxy version, [${err instanceof Error ? err.message : String(err)}]`,
        );
        return;
      }
    }
  }
  const match = cp.match;
  const hasObjectType =
    match !== undefined &&
    (match.listener !== undefined ||
      match.routeConfiguration !== undefined ||
      match.cluster !== undefined ||
      match.waypoint !== undefined);
  if (!hasObjectType) return;
  const mpath = [...path, 'match'];
  switch (cp.applyTo) {
    case 'LISTENER':
    case 'FILTER_CHAIN':
    case 'NETWORK_FILTER':
    case 'HTTP_FILTER': {
      const listener = match.listener;
      if (listener === undefined) {
        ctx.error(mpath, 'Envoy filter: applyTo for listener class objects cannot have non listener match');
        return;
      }
      const filter = listener.filterChain?.filter;
      if (filter === undefined) return;
      const fpath = [...mpath, 'listener', 'filterChain', 'filter'];
      if (cp.applyTo === 'LISTENER' || cp.applyTo === 'FILTER_CHAIN') {
        ctx.warn(fpath, `Envoy filter: filter match has no effect when used with ${cp.applyTo}`);
      }
      if ((filter.name ?? '') === '') {
        ctx.error([...fpath, 'name'], 'Envoy filter: filter match has no name to match on');
      } else if (filter.subFilter !== undefined) {
        if (cp.applyTo !== 'HTTP_FILTER') {
          ctx.error(
            [...fpath, 'subFilter'],
            'Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only',
          );
        } else if (!HCM.includes(filter.name ?? '')) {
          ctx.error(
            [...fpath, 'name'],
            `Envoy filter: subfilter match requires filter match with ${HCM[0] ?? ''}`,
          );
        } else if ((filter.subFilter.name ?? '') === '') {
          ctx.error([...fpath, 'subFilter', 'name'], 'Envoy filter: subfilter match has no name to match on');
        }
      }
      return;
    }
    case 'ROUTE_CONFIGURATION':
    case 'VIRTUAL_HOST':
    case 'HTTP_ROUTE':
      if (match.routeConfiguration === undefined) {
        ctx.error(
          mpath,
          'Envoy filter: applyTo for http route class objects cannot have non route configuration match',
        );
      }
      return;
    case 'CLUSTER':
      if (match.cluster === undefined) {
        ctx.error(mpath, 'Envoy filter: applyTo for cluster class objects cannot have non cluster match');
      }
      return;
    default:
      return;
  }
}
