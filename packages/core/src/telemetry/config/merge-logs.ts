import type { AccessLogging } from '../../config/schema/telemetry.js';

/** What istiod's `mergeLogs` keeps for one provider: disabled, or on with a filter. */
export interface MergedLog {
  readonly disabled: boolean;
  /** `filter.expression` of the last entry naming the provider for this mode, or null. */
  readonly filter: string | null;
}

/**
 * istio `pilot/pkg/model/telemetry.go` mergeLogs for one direction: `levels` are the
 * non-empty `accessLogging` lists of the applicable Telemetries, least specific first.
 * The most specific level naming providers for this mode sets the providers in scope
 * (else meshConfig `defaultProviders.accessLogging`); then every entry, root first,
 * turns its providers (or, when it names none, the previous entry's) on or off. The
 * filter kept is the last one recorded for the provider, whatever the entry.
 */
export function mergeLogs(
  levels: readonly (readonly AccessLogging[])[],
  defaults: readonly string[],
  mode: 'CLIENT' | 'SERVER',
): ReadonlyMap<string, MergedLog> {
  const out = new Map<string, MergedLog>();
  if (levels.length === 0) {
    for (const name of defaults) out.set(name, { disabled: false, filter: null });
    return out;
  }
  const matches = (l: AccessLogging) =>
    l.match?.mode === undefined || l.match.mode === 'CLIENT_AND_SERVER' || l.match.mode === mode;
  let providerNames: readonly string[] = defaults;
  const filters = new Map<string, string | null>();
  for (const level of levels) {
    const names = new Set<string>();
    for (const l of level) {
      if (!matches(l)) continue;
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
        if (!inScope.has(name) || !matches(l)) continue;
        out.set(
          name,
          l.disabled === true
            ? { disabled: true, filter: null }
            : { disabled: false, filter: filters.get(name) ?? null },
        );
      }
    }
  }
  return out;
}
