import type { Socket } from 'node:net';
import type { MeshPlan, RouteRequest } from '../compile/plan-types.js';
import type { GatewayRouteTarget } from '../inbound/engine-types.js';
import { pickWeighted } from '../outbound/route-request.js';
import { gatewayView } from './gateway-view.js';
import { connectionRouteName } from './server-route.js';

/**
 * The route a gateway request takes, as the gateway's filters see it: Envoy's connection
 * manager picks it before they run (conn_manager_impl.cc refreshCachedRoute), and a
 * filter that reads it finds no route entry when no virtual host or route matches, when the
 * route redirects (an `httpsRedirect` server's plaintext request included: the virtual
 * host's SSL redirect route) or answers directly, and no cluster when the route's is unknown
 * (ratelimit.cc initiateCall skips the call for each). A route weighing several destinations
 * draws its cluster with the request's own draw, `draw()`, which the router then uses too
 * (Envoy picks a weighted cluster with the stream's random value as it picks the route,
 * config_impl.cc pickWeightedCluster); without one, its cluster is not known here.
 */
export function gatewayRouteTarget(
  plan: MeshPlan,
  port: number,
  socket: Socket,
  encrypted: boolean,
  req: RouteRequest,
  draw?: () => number,
): GatewayRouteTarget | null {
  return gatewayRouteTargetIn(plan, connectionRouteName(plan, port, socket), port, encrypted, req, draw);
}

/**
 * {@link gatewayRouteTarget} in the route configuration `routeName` names (null: the port's
 * plain HTTP one, `http.<port>`), as `meshlet explain` asks it without a connection.
 */
export function gatewayRouteTargetIn(
  plan: MeshPlan,
  routeName: string | null,
  port: number,
  encrypted: boolean,
  req: RouteRequest,
  draw?: () => number,
): GatewayRouteTarget | null {
  const view = gatewayView(plan, routeName);
  const vhost = view.outbound.lookup(req.authority, port);
  if (vhost === null || (vhost.requireTls === true && !encrypted)) return null;
  const route = view.outbound.route(vhost, req);
  if (route === null || route.action.kind !== 'route') return null;
  // The plan keeps no destination weighted 0 (none is ever drawn).
  const destinations = route.action.destinations;
  let dest = destinations[0];
  if (destinations.length > 1) {
    if (draw === undefined) return { cluster: null };
    dest = pickWeighted(destinations, draw());
  }
  if (dest === undefined) return null;
  const cluster = dest.cluster;
  // The router answers 503 NC for these (pipeline.ts): Envoy has no such cluster.
  return view.outbound.cluster(cluster)?.status === 'ok' ? { cluster } : null;
}
