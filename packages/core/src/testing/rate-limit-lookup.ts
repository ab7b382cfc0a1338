import type { ConfigNode, Limit } from './rate-limit-config.js';
import type { RateLimitCall } from './rate-limit-service.js';

// ---- looking up a limit (config_impl.go GetLimit) ----

/**
 * A `*` anywhere in a configured value matches any run of characters, several in order
 * (config_impl.go `wildcardMatch`; older releases only knew a trailing `*`). The pattern is
 * the configured `key_value`, matched against the request's `key_value`.
 */
function wildcardMatch(parts: readonly string[], s: string): boolean {
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (parts.length === 1) return first === s;
  if (!s.startsWith(first) || !s.endsWith(last)) return false;
  if (s.length < parts.reduce((n, p) => n + p.length, 0)) return false;
  let rest = s.slice(first.length, s.length - last.length);
  for (const p of parts.slice(1, -1)) {
    const at = rest.indexOf(p);
    if (at < 0) return false;
    rest = rest.slice(at + p.length);
  }
  return true;
}

export interface Found {
  readonly limit: Limit;
  /** By entry index: the wildcard value a `share_threshold` entry is counted under. */
  readonly shared: ReadonlyMap<number, string>;
}

type CallDescriptor = RateLimitCall['descriptors'][number];

/**
 * config_impl.go `GetLimit`: an unknown domain has no limit; the `limit` override from Envoy
 * is taken as it is; otherwise walk the entries level by level, at each trying `key_value`,
 * then the wildcards, then `key` alone (the default). A limit applies only at the level of
 * the request's last entry (README "Example 4"), so a request deeper or shallower than the
 * configured limit is unlimited.
 */
export function getLimit(
  domains: ReadonlyMap<string, ConfigNode>,
  domain: string,
  d: CallDescriptor,
): Found | null {
  let node = domains.get(domain);
  if (node === undefined) return null;
  if (d.limit != null)
    return {
      limit: {
        requestsPerUnit: d.limit.requestsPerUnit,
        unit: d.limit.unit,
        unlimited: false,
        shadowMode: false,
        quotaMode: false,
        name: '',
        replaces: [],
      },
      shared: new Map(),
    };
  let found: Found | null = null;
  const shared = new Map<number, string>();
  for (const [i, entry] of d.entries.entries()) {
    const finalKey = `${entry.key}_${entry.value}`;
    let next: ConfigNode | undefined = node.children.get(finalKey);
    if (next === undefined) {
      const w = node.wildcards.find((c) => wildcardMatch(c.parts, finalKey));
      if (w !== undefined) {
        next = node.children.get(w.key);
        if (next?.sharedPattern != null) shared.set(i, next.sharedPattern.slice(entry.key.length + 1));
      }
    }
    next ??= node.children.get(entry.key);
    if (next?.limit != null && i === d.entries.length - 1) found = { limit: next.limit, shared };
    if (next === undefined || next.children.size === 0) break;
    node = next;
  }
  return found;
}
