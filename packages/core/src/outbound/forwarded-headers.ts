import type { CompiledRoute, MeshPlan, RouteDestination } from '../compile/plan-types.js';
import type { HeaderRecord } from './request-input.js';

const FORWARDED_HOST = 'x-forwarded-host';
const FORWARDED_PORT = 'x-forwarded-port';
const FORWARDED_PROTO = 'x-forwarded-proto';

/**
 * The sidecar's outbound connection manager gives a request without x-forwarded-proto the
 * scheme of the application's connection to it, plaintext `http` (conn_manager_utility.cc
 * mutateRequestHeaders; the listener does not use the remote address, so the
 * application's own value stays). It runs before routing: route matches see it.
 */
export function forwardProto(headers: HeaderRecord): void {
  if (headers[FORWARDED_PROTO] === undefined) headers[FORWARDED_PROTO] = 'http';
}

/**
 * `proxyHeaders.xForwardedPort.enabled` is the connection manager's
 * `append_x_forwarded_port` (pilot listener_builder.go). On a sidecar's outbound listener,
 * which does not use the remote address, Envoy sets the header to the port the
 * application connected to only when the request has none (conn_manager_utility.cc
 * mutateRequestHeaders). The connection manager runs before routing, so a route match
 * and the route's header operations see it.
 */
export function forwardPort(headers: HeaderRecord, plan: MeshPlan, port: number): void {
  if (plan.meshConfig.proxyHeaders.xForwardedPort && headers[FORWARDED_PORT] === undefined)
    headers[FORWARDED_PORT] = String(port);
}

/**
 * The Host a routed call goes out with, as Envoy's router finalizes it: a weighted
 * destination's authority first (WeightedClusterEntry, a plain set), then the route's
 * own rewrite (`rewrite.authority`, the rule's `headers.request.set` authority, or a sole
 * destination's; istio route.go), which wins. With `proxyHeaders.xForwardedHost.enabled`,
 * a rule that has a `rewrite` gets `append_x_forwarded_host` (route.go
 * applyHTTPRouteDestination), and the route's rewrite then appends the Host it replaces
 * to `x-forwarded-host`, unless that is already its last value (http/utility.cc
 * updateAuthority, `append_xfh_idempotent`).
 */
export function rewriteHost(
  headers: HeaderRecord,
  plan: MeshPlan,
  route: CompiledRoute,
  dest: RouteDestination,
  sole: boolean,
  authority: string,
): void {
  const destAuthority = dest.headers?.authorityRewrite ?? null;
  const routeHost =
    route.rewrite?.authority ?? route.headers?.authorityRewrite ?? (sole ? destAuthority : null);
  let host = !sole && destAuthority !== null ? destAuthority : authority;
  if (routeHost !== null) {
    if (route.rewrite !== null && plan.meshConfig.proxyHeaders.xForwardedHost)
      appendForwardedHost(headers, host);
    host = routeHost;
  }
  headers['host'] = host;
}

function appendForwardedHost(headers: HeaderRecord, host: string): void {
  if (host === '') return;
  const present = headers[FORWARDED_HOST];
  const xfh = present === undefined ? '' : typeof present === 'string' ? present : present.join(',');
  if (xfh === '') {
    headers[FORWARDED_HOST] = host;
    return;
  }
  const values = xfh
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values[values.length - 1] !== host) headers[FORWARDED_HOST] = `${xfh},${host}`;
}
