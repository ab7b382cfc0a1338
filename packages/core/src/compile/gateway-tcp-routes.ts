import type { Resource } from '../config/resource.js';
import type { L4MatchAttributes, TCPRoute } from '../config/schema/virtual-service.js';
import { compileRoute } from './compile-route.js';
import {
  gatewayNames,
  intersect,
  namesForNamespace,
  resolveGatewayName,
  type GatewayContext,
} from './gateway-routes.js';
import type { GatewayServerInfo, GatewayTcpRoute } from './plan-types.js';
import { selectVirtualServices } from './vs-selection.js';

/** Server protocols whose connections a gateway proxies as plain TCP (istio protocol.IsTCP, less TLS). */
const TCP_PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'MONGO', 'REDIS', 'MYSQL']);

/** Whether a Gateway server is a plain TCP one, routed by VirtualService `tcp` rules. */
export function isTcpServer(server: GatewayServerInfo): boolean {
  return TCP_PROTOCOLS.has(server.protocol.toUpperCase()) && server.tls === null;
}

/**
 * istio `l4SingleMatch` at a gateway: only `gateways` and `port` are read there; a rule
 * without `match` applies to every TCP server its VirtualService binds.
 */
function l4Matches(
  matches: readonly L4MatchAttributes[] | undefined,
  port: number,
  gateway: string,
  vsNamespace: string,
): boolean {
  if (matches === undefined || matches.length === 0) return true;
  return matches.some(
    (m) =>
      (m.gateways === undefined ||
        m.gateways.length === 0 ||
        m.gateways.some((g) => resolveGatewayName(g, vsNamespace) === gateway)) &&
      (m.port === undefined || m.port === 0 || m.port === port),
  );
}

/**
 * The route of each TCP server port, as istiod builds a gateway's TCP filter chain
 * (gateway.go `buildGatewayNetworkFiltersFromTCPRoutes`): the VirtualServices bound to
 * the server's Gateway, in istiod's order, whose hosts meet the server's; the first `tcp`
 * rule whose match fits the server's port and Gateway wins, and its weighted
 * destinations become the tcp_proxy's clusters. A port no rule routes gets a route with
 * no destination: istiod builds no filter chain for it, so its connections are closed.
 */
export function buildGatewayTcpRoutes(
  resources: readonly Resource[],
  proxyNamespace: string,
  servers: readonly GatewayServerInfo[],
  ctxFor: GatewayContext,
): GatewayTcpRoute[] {
  const out: GatewayTcpRoute[] = [];
  const ports = [...new Set(servers.filter(isTcpServer).map((s) => s.port))];
  for (const port of ports) {
    out.push(
      routeFor(resources, proxyNamespace, servers, port, ctxFor) ?? {
        port,
        id: null,
        virtualService: null,
        destinations: [],
      },
    );
  }
  return out;
}

function routeFor(
  resources: readonly Resource[],
  proxyNamespace: string,
  servers: readonly GatewayServerInfo[],
  port: number,
  ctxFor: GatewayContext,
): GatewayTcpRoute | null {
  for (const server of servers) {
    if (!isTcpServer(server) || server.port !== port) continue;
    const gw = `${server.gateway.namespace}/${server.gateway.name}`;
    const bound = selectVirtualServices(resources, proxyNamespace, (spec, ns) =>
      (spec.gateways ?? []).some((g) => resolveGatewayName(g, ns) === gw),
    );
    for (const vs of bound) {
      const vsNs = vs.resource.metadata.namespace;
      if (intersect(namesForNamespace(server.hosts, vsNs), vs.hosts).length === 0) continue;
      const rules = (vs.resource.spec as { tcp?: readonly TCPRoute[] }).tcp ?? [];
      for (const [i, rule] of rules.entries()) {
        if (!l4Matches(rule.match, port, gw, vsNs)) continue;
        const owner = { namespace: vsNs, name: vs.resource.metadata.name };
        const id = `${vsNs}/${owner.name}/tcp/${i}`;
        const compiled = compileRoute(
          { route: rule.route ?? [] },
          id,
          { virtualService: owner, delegate: null },
          ctxFor(vsNs, port, gatewayNames(server.gateway, vsNs)),
        );
        const action = compiled?.route.action;
        return {
          port,
          id,
          virtualService: owner,
          destinations: action?.kind === 'route' ? action.destinations : [],
        };
      }
    }
  }
  return null;
}
