import type { FieldPath } from '../diagnostic.js';
import type {
  EnvoyConfigObjectMatch,
  EnvoyFilterSpec,
  PatchContext,
  PatchOperation,
} from './envoy-filter.js';
import { isObject, type Problem } from './local-rate-limit-read.js';
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

export interface UnsupportedPatch {
  readonly path: FieldPath;
  readonly reason: string;
}

export interface EnvoyFilterScan {
  readonly patches: readonly LocalRateLimitPatch[];
  readonly unsupported: readonly UnsupportedPatch[];
  /** Invalid local rate limit configs (errors) and ignored fields inside them (warnings). */
  readonly errors: readonly Problem[];
  readonly warnings: readonly Problem[];
}

const IGNORED = 'is not supported by meshlet: only the envoy.filters.http.local_ratelimit patch is applied';
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
    unsupported: [] as UnsupportedPatch[],
    errors: [] as Problem[],
    warnings: [] as Problem[],
  };
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

    const perFilterKey =
      'typed_per_filter_config' in value ? 'typed_per_filter_config' : 'typedPerFilterConfig';
    const perFilter = value[perFilterKey];
    const lrlEntries = isObject(perFilter)
      ? Object.entries(perFilter).filter(([, cfg]) => localRateLimitBody(cfg, []) !== null)
      : [];
    if (cp.applyTo !== 'HTTP_ROUTE' || op !== 'MERGE' || lrlEntries.length === 0) {
      out.unsupported.push({
        path,
        reason: `applyTo ${cp.applyTo} with operation ${op} ${IGNORED}; this patch is ignored`,
      });
      return;
    }
    for (const key of Object.keys(value)) {
      if (key !== perFilterKey) {
        out.unsupported.push({
          path: [...valuePath, key],
          reason: `route field ${JSON.stringify(key)} ${IGNORED}; this field is ignored`,
        });
      }
    }
    for (const [filterName, cfg] of Object.entries(perFilter as Record<string, unknown>)) {
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
