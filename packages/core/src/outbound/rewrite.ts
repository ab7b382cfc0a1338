import type { CompiledRoute, RouteRequest } from '../compile/plan-types.js';

/**
 * `HTTPRoute.rewrite.uri` / `uriRegexRewrite` applied to `path` (with its query).
 * A `uri` rewrite replaces the matched `uri.prefix` (an entry without a uri match, and a
 * rule without entries, match the prefix `/`), or the whole path for an exact or regex
 * uri match (spec/traffic.md §1 "Actions"). The query string is kept. Returns null when nothing changes.
 */
export function rewritePath(route: CompiledRoute, req: RouteRequest, path: string): string | null {
  const rw = route.rewrite;
  if (rw === null || (rw.uri === null && rw.regex === null)) return null;
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  const query = q === -1 ? '' : path.slice(q);
  let next: string;
  if (rw.regex !== null) next = rw.regex.apply(bare);
  else {
    const uri = rw.uri as string;
    const prefix = matchedPrefix(route, req);
    next = prefix === null ? uri : uri + bare.slice(prefix.length);
  }
  const out = next + query;
  return out === path ? null : out;
}

/**
 * The prefix of the match entry that selected this request (CompiledMatch.uriPrefix: `/`
 * for an entry without a uri match or a rule without entries), null for an exact or
 * regex uri match, whose whole path is replaced.
 */
function matchedPrefix(route: CompiledRoute, req: RouteRequest): string | null {
  if (route.matches.length === 0) return '/';
  for (const m of route.matches) {
    if (m.test(req)) return m.uriPrefix;
  }
  return null;
}
