import type { CompiledRoute, RouteAction, RouteRequest } from '../compile/plan-types.js';
import type { Target } from './request-input.js';
import { localReply, type LocalReply } from './local-reply.js';

type Redirect = Extract<RouteAction, { kind: 'redirect' }>;

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443 };

function splitHostPort(authority: string): { host: string; port: string | null } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  return m === null ? { host: authority, port: null } : { host: m[1] as string, port: m[2] ?? null };
}

/**
 * The path prefix a redirect's `prefix_rewrite` swaps: the `uri.prefix` of the match
 * entry that selected the request, `/` for an entry without a uri match and for a rule
 * with none (istio route.go TranslateRouteMatch gives both the Envoy prefix `/`). The
 * webhook allows `prefixRewrite` with prefix uri matches only (validateHTTPRedirect).
 */
function matchedPrefix(route: CompiledRoute, req: RouteRequest): string {
  for (const m of route.matches) if (m.test(req)) return m.uriPrefix ?? '/';
  return '/';
}

/**
 * `HTTPRoute.redirect` as Envoy's `RedirectAction` builds `Location`: scheme,
 * authority and port replaced when given (FROM_REQUEST_PORT keeps the one called;
 * FROM_PROTOCOL_DEFAULT is no port_redirect in istio route.go ApplyRedirect, the same as
 * unset, so envoy processRequestHost keeps the Host's port unless the scheme changes and
 * it is the old scheme's default); `uri` replaces the path and the
 * original query is kept unless `uri` has its own (envoy route_entry `newUri`);
 * `prefixRewrite` replaces the matched prefix, keeping the rest and the query (envoy
 * config_impl.cc finalizePathHeaderForRedirect).
 */
export function redirectReply(
  action: Redirect,
  target: Target,
  authority: string,
  route: CompiledRoute,
  req: RouteRequest,
): LocalReply {
  const scheme = action.scheme ?? target.scheme;
  const base = splitHostPort(action.authority ?? authority);
  let port = action.authority !== null ? base.port : splitHostPort(authority).port;
  if (action.port !== null) port = String(action.port);
  else if (action.derivePort === 'FROM_REQUEST_PORT') port = String(target.port);
  else if (action.scheme !== null && port !== null && Number(port) === DEFAULT_PORT[target.scheme]) {
    // Changing the scheme drops the old scheme's default port (http://a:80 -> https://a).
    port = null;
  }
  if (port !== null && Number(port) === DEFAULT_PORT[scheme]) port = null;
  let path = target.path;
  if (action.prefixRewrite !== null) {
    path = action.prefixRewrite + target.path.slice(matchedPrefix(route, req).length);
  } else if (action.uri !== null) {
    const q = target.path.indexOf('?');
    path = action.uri.includes('?') || q === -1 ? action.uri : action.uri + target.path.slice(q);
  }
  const location = `${scheme}://${base.host}${port === null ? '' : `:${port}`}${path}`;
  return localReply(action.status, '', null, { location });
}
