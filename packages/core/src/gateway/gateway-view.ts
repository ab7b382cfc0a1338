import { gatewayHostLookup } from '../compile/gateway-routes.js';
import type { MeshPlan } from '../compile/plan-types.js';

const gatewayViews = new WeakMap<MeshPlan, Map<string | null, MeshPlan>>();
const NO_GATEWAY_LOOKUP = gatewayHostLookup([]);

/**
 * The plan a gateway's request runs on: the plan with its gateway routes as the route
 * tables, seen from one route configuration when `routeName` is given (a virtual host of
 * another server's is a host no virtual host names: `404 NR`).
 */
export function gatewayView(plan: MeshPlan, routeName: string | null): MeshPlan {
  let views = gatewayViews.get(plan);
  if (views === undefined) {
    views = new Map();
    gatewayViews.set(plan, views);
  }
  // null (the port's merged tables) and '' (no server's: nothing routes) are different views.
  let view = views.get(routeName);
  if (view === undefined) {
    // A plan whose workload no Gateway selects any more (a reload) has no route: 404 NR.
    const routes = plan.gateway?.routes ?? { ...plan.outbound, virtualHosts: [], lookup: NO_GATEWAY_LOOKUP };
    const lookup = routes.lookup;
    view = {
      ...plan,
      outbound:
        routeName === null
          ? routes
          : {
              ...routes,
              lookup: (authority, port) => {
                const vh = lookup(authority, port);
                return vh === null || vh.routeNames === undefined || vh.routeNames.includes(routeName)
                  ? vh
                  : NO_GATEWAY_LOOKUP(authority, port);
              },
            },
    };
    views.set(routeName, view);
  }
  return view;
}
