import type { FieldPath } from '../diagnostic.js';
import type {
  EnvoyConfigObjectMatch,
  EnvoyFilterSpec,
  PatchContext,
  PatchOperation,
} from './envoy-filter.js';
import { isObject, type Problem, type Reader } from './local-rate-limit-read.js';
import {
  RATE_LIMIT_FILTER,
  RATE_LIMIT_FILTER_NAMES,
  parseGlobalRateLimit,
  rateLimitBody,
  type GlobalRateLimitConfig,
} from './rate-limit-filter.js';
import { readRateLimits, type RateLimitEntry } from './rate-limit-actions.js';
import { readPatchedCluster, type PatchedCluster } from './envoy-filter-cluster.js';
import {
  LOCAL_RATE_LIMIT_FILTER,
  localRateLimitBody,
  parseLocalRateLimit,
  type LocalRateLimitConfig,
} from './local-rate-limit.js';

/**
 * Which EnvoyFilter patches meshlet understands: inserting the
 * `envoy.filters.http.local_ratelimit` HTTP filter (applyTo HTTP_FILTER) and
 * merging its per-route config (applyTo HTTP_ROUTE, `typed_per_filter_config`).
 * Everything else is reported as unsupported.
 */

/** One local rate limit patch, ready for the plan compiler. */
export interface LocalRateLimitPatch {
  /** Index in `spec.configPatches`. */
  readonly index: number;
  /** Path of the patch, e.g. `['spec','configPatches',0]`. */
  readonly path: FieldPath;
  readonly applyTo: 'HTTP_FILTER' | 'HTTP_ROUTE';
  readonly operation: PatchOperation;
  /** `match.context`, default ANY. */
  readonly context: PatchContext;
  readonly match: EnvoyConfigObjectMatch | null;
  /** The HTTP filter's `name`, or the `typed_per_filter_config` key of a route patch. */
  readonly filterName: string;
  readonly config: LocalRateLimitConfig;
}

/** Where a patch applies, common to every kind. */
interface PatchBase {
  readonly index: number;
  readonly path: FieldPath;
  readonly operation: PatchOperation;
  readonly context: PatchContext;
  readonly match: EnvoyConfigObjectMatch | null;
}

/** An `envoy.filters.http.ratelimit` HTTP filter inserted (the global rate limit). */
export interface GlobalRateLimitPatch extends PatchBase {
  readonly applyTo: 'HTTP_FILTER';
  readonly filterName: string;
  readonly config: GlobalRateLimitConfig;
}

/** `rate_limits` merged into virtual hosts (VIRTUAL_HOST) or routes (HTTP_ROUTE `route`). */
export interface RateLimitsPatch extends PatchBase {
  readonly applyTo: 'VIRTUAL_HOST' | 'HTTP_ROUTE';
  readonly rateLimits: readonly RateLimitEntry[];
  /** A route's `include_vh_rate_limits`, when the patch sets it. */
  readonly includeVhRateLimits: boolean | null;
}

/** A cluster an `ADD` CLUSTER patch creates. */
export interface ClusterPatch extends PatchBase {
  readonly cluster: PatchedCluster;
}

export interface UnsupportedPatch {
  readonly path: FieldPath;
  readonly reason: string;
}

export interface EnvoyFilterScan {
  readonly patches: readonly LocalRateLimitPatch[];
  readonly globals: readonly GlobalRateLimitPatch[];
  readonly rateLimits: readonly RateLimitsPatch[];
  readonly clusters: readonly ClusterPatch[];
  readonly unsupported: readonly UnsupportedPatch[];
  /** Invalid rate limit configs (errors) and ignored fields inside them (warnings). */
  readonly errors: readonly Problem[];
  readonly warnings: readonly Problem[];
  /** Valid config that the proxy refuses or that does not do what it says (MESHLET0007). */
  readonly notices: readonly Problem[];
}

const IGNORED = `is not supported by meshlet: only the envoy.filters.http.local_ratelimit and ${RATE_LIMIT_FILTER} filters, their route and virtual host rate_limits, and the clusters ADD patches create are applied`;
const INSERTS: readonly PatchOperation[] = ['INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'ADD'];

/**
 * The local rate limit patches of an EnvoyFilter, and what meshlet ignores.
 * Patches with an invalid local rate limit config are left out.
 */
export function extractLocalRateLimits(spec: EnvoyFilterSpec): {
  patches: LocalRateLimitPatch[];
  unsupported: { path: FieldPath; reason: string }[];
} {
  const scan = scanEnvoyFilter(spec);
  return { patches: [...scan.patches], unsupported: [...scan.unsupported] };
}

/** {@link extractLocalRateLimits} plus the problems found in local rate limit configs. */
export function scanEnvoyFilter(spec: EnvoyFilterSpec): EnvoyFilterScan {
  const out = {
    patches: [] as LocalRateLimitPatch[],
    globals: [] as GlobalRateLimitPatch[],
    rateLimits: [] as RateLimitsPatch[],
    clusters: [] as ClusterPatch[],
    unsupported: [] as UnsupportedPatch[],
    errors: [] as Problem[],
    warnings: [] as Problem[],
    notices: [] as Problem[],
  };
  const reader: Reader = { errors: out.errors, warnings: out.warnings };
  (spec.configPatches ?? []).forEach((cp, index) => {
    const path: FieldPath = ['spec', 'configPatches', index];
    const op = cp.patch?.operation;
    // Missing applyTo/operation are webhook errors already; nothing to apply.
    if (cp.applyTo === undefined || cp.applyTo === 'INVALID' || op === undefined || op === 'INVALID') return;
    const base = {
      index,
      path,
      operation: op,
      context: cp.match?.context ?? 'ANY',
      match: cp.match ?? null,
    } as const;
    const value = cp.patch?.value ?? {};
    const valuePath: FieldPath = [...path, 'patch', 'value'];
    const name = typeof value['name'] === 'string' ? value['name'] : undefined;

    if (cp.applyTo === 'HTTP_FILTER') {
      const typedKey = 'typed_config' in value ? 'typed_config' : 'typedConfig';
      const typed = value[typedKey];
      const isGlobal =
        (name !== undefined && RATE_LIMIT_FILTER_NAMES.has(name)) || rateLimitBody(typed, []) !== null;
      if (isGlobal && INSERTS.includes(op)) {
        if (typed === undefined) {
          out.errors.push({
            path: [...valuePath, 'typed_config'],
            message: `Required value: typed_config is required for ${RATE_LIMIT_FILTER}`,
          });
          return;
        }
        const parsed = parseGlobalRateLimit(typed, [...valuePath, typedKey]);
        out.errors.push(...parsed.errors);
        out.warnings.push(...parsed.warnings);
        out.notices.push(...parsed.notices);
        if (parsed.config !== null)
          out.globals.push({
            ...base,
            applyTo: 'HTTP_FILTER',
            filterName: name ?? RATE_LIMIT_FILTER,
            config: parsed.config,
          });
        return;
      }
      const isLrl = name === LOCAL_RATE_LIMIT_FILTER || localRateLimitBody(typed, []) !== null;
      if (!isLrl || !INSERTS.includes(op)) {
        const what = `applyTo HTTP_FILTER with operation ${op}${name === undefined ? '' : ` of ${name}`}`;
        out.unsupported.push({ path, reason: `${what} ${IGNORED}; this patch is ignored` });
        return;
      }
      if (typed === undefined) {
        out.errors.push({
          path: [...valuePath, 'typed_config'],
          message: `Required value: typed_config is required for ${LOCAL_RATE_LIMIT_FILTER}`,
        });
        return;
      }
      for (const key of Object.keys(value)) {
        if (key !== 'name' && key !== typedKey) {
          out.unsupported.push({
            path: [...valuePath, key],
            reason: `HTTP filter field ${JSON.stringify(key)} ${IGNORED}; this field is ignored`,
          });
        }
      }
      const parsed = parseLocalRateLimit(typed, [...valuePath, typedKey]);
      out.errors.push(...parsed.errors);
      out.warnings.push(...parsed.warnings);
      if (parsed.config !== null) {
        out.patches.push({
          ...base,
          applyTo: 'HTTP_FILTER',
          filterName: name ?? LOCAL_RATE_LIMIT_FILTER,
          config: parsed.config,
        });
      }
      return;
    }

    if (cp.applyTo === 'CLUSTER' && op === 'ADD') {
      const cluster = readPatchedCluster(reader, value, valuePath);
      if (cluster !== null) out.clusters.push({ ...base, cluster });
      return;
    }
    const vhostLimits = rateLimitsKey(value);
    if (cp.applyTo === 'VIRTUAL_HOST' && op === 'MERGE' && vhostLimits !== null) {
      for (const key of Object.keys(value))
        if (key !== vhostLimits)
          out.unsupported.push({
            path: [...valuePath, key],
            reason: `virtual host field ${JSON.stringify(key)} ${IGNORED}; this field is ignored`,
          });
      const rateLimits = readRateLimits(reader, value[vhostLimits], [...valuePath, vhostLimits]);
      out.rateLimits.push({ ...base, applyTo: 'VIRTUAL_HOST', rateLimits, includeVhRateLimits: null });
      return;
    }
    const perFilterKey =
      'typed_per_filter_config' in value ? 'typed_per_filter_config' : 'typedPerFilterConfig';
    const perFilter = value[perFilterKey];
    const lrlEntries = isObject(perFilter)
      ? Object.entries(perFilter).filter(([, cfg]) => localRateLimitBody(cfg, []) !== null)
      : [];
    const route = value['route'];
    const routeLimits = isObject(route) ? routeRateLimitKeys(route) : [];
    if (
      cp.applyTo !== 'HTTP_ROUTE' ||
      op !== 'MERGE' ||
      (lrlEntries.length === 0 && routeLimits.length === 0)
    ) {
      out.unsupported.push({
        path,
        reason: `applyTo ${cp.applyTo} with operation ${op} ${IGNORED}; this patch is ignored`,
      });
      return;
    }
    if (routeLimits.length > 0 && isObject(route)) {
      const routePath: FieldPath = [...valuePath, 'route'];
      for (const key of Object.keys(route))
        if (!routeLimits.includes(key))
          out.unsupported.push({
            path: [...routePath, key],
            reason: `route action field ${JSON.stringify(key)} ${IGNORED}; this field is ignored`,
          });
      const rl = routeLimits.find((k) => k === 'rate_limits' || k === 'rateLimits');
      const inc = routeLimits.find((k) => k !== rl);
      const include = inc === undefined ? undefined : route[inc];
      if (include !== undefined && typeof include !== 'boolean')
        out.errors.push({
          path: [...routePath, inc ?? ''],
          message: `expected a boolean (true or false), got ${JSON.stringify(include)}`,
        });
      out.rateLimits.push({
        ...base,
        applyTo: 'HTTP_ROUTE',
        rateLimits: rl === undefined ? [] : readRateLimits(reader, route[rl], [...routePath, rl]),
        includeVhRateLimits: typeof include === 'boolean' ? include : null,
      });
    }
    for (const key of Object.keys(value)) {
      if (key !== perFilterKey && !(key === 'route' && routeLimits.length > 0)) {
        out.unsupported.push({
          path: [...valuePath, key],
          reason: `route field ${JSON.stringify(key)} ${IGNORED}; this field is ignored`,
        });
      }
    }
    if (!isObject(perFilter)) return;
    for (const [filterName, cfg] of Object.entries(perFilter)) {
      const entryPath: FieldPath = [...valuePath, perFilterKey, filterName];
      if (localRateLimitBody(cfg, []) === null) {
        out.unsupported.push({
          path: entryPath,
          reason: `typed_per_filter_config for ${filterName} ${IGNORED}; this entry is ignored`,
        });
        continue;
      }
      const parsed = parseLocalRateLimit(cfg, entryPath);
      out.errors.push(...parsed.errors);
      out.warnings.push(...parsed.warnings);
      if (parsed.config !== null)
        out.patches.push({ ...base, applyTo: 'HTTP_ROUTE', filterName, config: parsed.config });
    }
  });
  return Object.freeze(out);
}

/** The key of a virtual host's `rate_limits` (proto or JSON name), or null. */
function rateLimitsKey(value: Readonly<Record<string, unknown>>): string | null {
  if ('rate_limits' in value) return 'rate_limits';
  return 'rateLimits' in value ? 'rateLimits' : null;
}

/** The keys of a route action's `rate_limits` and `include_vh_rate_limits` (proto or JSON names). */
function routeRateLimitKeys(route: Readonly<Record<string, unknown>>): string[] {
  return ['rate_limits', 'rateLimits', 'include_vh_rate_limits', 'includeVhRateLimits'].filter(
    (k) => k in route,
  );
}
