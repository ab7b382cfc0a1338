import type { CompiledRoute, RouteAction, RouteRequest } from './plan-types.js';
import type { HTTPMatchRequestIn } from './spec-types.js';

/**
 * The path part of an Envoy route's decorator operation, from the route's path matcher
 * (istio pilot/pkg/networking/core/route/route.go GetRouteOperation): `<prefix>*` for a
 * prefix, the exact path, the regex itself, and `/*` for a match without a uri (istiod
 * translates it to prefix `/`, TranslateRouteMatch).
 */
function operationPath(match: HTTPMatchRequestIn | null): string {
  const uri = match?.uri;
  if (uri === undefined) return '/*';
  if (uri.exact !== undefined) return uri.exact;
  if (uri.prefix !== undefined) return `${uri.prefix}*`;
  if (uri.regex !== undefined) return uri.regex;
  return '/*';
}

/**
 * The decorator operation istiod gives the Envoy route it builds from one match of a
 * VirtualService rule (route.go TranslateRoute, GetRouteOperation): `<host>:<port><path>`
 * of the route's one cluster `outbound|<port>|<subset>|<host>`, else (several
 * destinations, weight 0 included, which become weighted clusters; a redirect; a direct
 * response) `<VirtualService name>:<listener port><path>`.
 */
export function routeOperation(
  match: HTTPMatchRequestIn | null,
  action: RouteAction,
  virtualServiceName: string,
  listenPort: number,
): string {
  const path = operationPath(match);
  if (action.kind === 'route' && !action.weighted && action.destinations.length === 1) {
    const d = action.destinations[0]!;
    return `${d.host}:${d.port}${path}`;
  }
  return `${virtualServiceName}:${listenPort}${path}`;
}

/**
 * The operation of the Envoy route a request took: `route.operations` has one per
 * `matches` entry (each its own Envoy route), so a rule with several matches looks up
 * the entry that matched, as the router did. Istio's default route for a Service port has
 * `<host>:<port>/*` (route.go buildSidecarVirtualHostForService, telemetry.TraceOperation).
 * Null for a route with neither.
 */
export function operationOf(route: CompiledRoute, req: RouteRequest): string | null {
  const ops = route.operations;
  if (ops === undefined || ops.length === 0) return defaultOperation(route);
  if (ops.length === 1) return ops[0]!;
  const matches = route.matches;
  for (let i = 0; i < matches.length; i++) if (matches[i]!.test(req)) return ops[i] ?? null;
  return ops[ops.length - 1]!;
}

/** The default routes' operations, made once per plan's route rather than per call. */
const DEFAULT_OPERATIONS = new WeakMap<CompiledRoute, string | null>();

function defaultOperation(route: CompiledRoute): string | null {
  let op = DEFAULT_OPERATIONS.get(route);
  if (op === undefined) {
    const a = route.action;
    const d = a.kind === 'route' && a.destinations.length === 1 ? a.destinations[0]! : null;
    op = route.virtualService === null && d !== null ? `${d.host}:${d.port}/*` : null;
    DEFAULT_OPERATIONS.set(route, op);
  }
  return op;
}
