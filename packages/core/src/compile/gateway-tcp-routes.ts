import type { Resource } from '../config/resource.js';
import type { L4MatchAttributes, TCPRoute, TLSRoute } from '../config/schema/virtual-service.js';
import { compileRoute } from './compile-route.js';
import {
  gatewayNames,
  intersect,
  namesForNamespace,
  resolveGatewayName,
  virtualServicesForGateway,
  type GatewayContext,
} from './gateway-routes.js';
import type {
  GatewayServerInfo,
  GatewayTcpRoute,
  GatewayTlsChain,
  GatewayTlsPort,
  RouteDestination,
} from './plan-types.js';
import type { RouteContext } from './compile-route.js';
import type { SelectedVirtualService } from './vs-selection.js';

/** Server protocols whose connections a gateway proxies as plain TCP (istio protocol.IsTCP, less TLS). */
const TCP_PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'MONGO', 'REDIS', 'MYSQL']);

/**
 * Whether a Gateway server's connections are routed by VirtualService `tcp` rules: a plain
 * TCP one, or a TLS one whose TLS the gateway terminates (any mode but PASSTHROUGH and
 * AUTO_PASSTHROUGH: gateway.go `createGatewayTCPFilterChainOpts` then puts the tcp routes
 * behind the server's TLS context).
 */
export function isTcpServer(server: GatewayServerInfo): boolean {
  return (
    (TCP_PROTOCOLS.has(server.protocol.toUpperCase()) && server.tls === null) ||
    isTlsTerminatedTcpServer(server)
  );
}

/** A TLS server (not HTTPS) the gateway terminates, its stream then routed by `tcp` rules. */
export function isTlsTerminatedTcpServer(server: GatewayServerInfo): boolean {
  return (
    server.protocol.toUpperCase() === 'TLS' &&
    server.tls !== null &&
    server.tlsMode !== 'PASSTHROUGH' &&
    server.tlsMode !== 'AUTO_PASSTHROUGH'
  );
}

/** Whether a Gateway server passes TLS through to be routed by SNI (HTTPS or TLS, mode PASSTHROUGH). */
export function isPassthroughServer(server: GatewayServerInfo): boolean {
  const protocol = server.protocol.toUpperCase();
  return (
    (protocol === 'TLS' || protocol === 'HTTPS') && server.tls !== null && server.tlsMode === 'PASSTHROUGH'
  );
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

/**
 * The VirtualServices bound to the server's Gateway (istio `VirtualServicesForGateway`, in
 * its order) whose hosts meet the server's (`pickMatchingGatewayHosts`).
 */
function boundVirtualServices(
  resources: readonly Resource[],
  proxyNamespace: string,
  server: GatewayServerInfo,
): SelectedVirtualService[] {
  const gw = `${server.gateway.namespace}/${server.gateway.name}`;
  return virtualServicesForGateway(resources, proxyNamespace, gw).filter(
    (vs) => intersect(namesForNamespace(server.hosts, vs.resource.metadata.namespace), vs.hosts).length > 0,
  );
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
    for (const vs of boundVirtualServices(resources, proxyNamespace, server)) {
      const vsNs = vs.resource.metadata.namespace;
      const rules = (vs.resource.spec as { tcp?: readonly TCPRoute[] }).tcp ?? [];
      for (const [i, rule] of rules.entries()) {
        if (!l4Matches(rule.match, port, gw, vsNs)) continue;
        const owner = { namespace: vsNs, name: vs.resource.metadata.name };
        const id = `${vsNs}/${owner.name}/tcp/${i}`;
        const destinations = compileTcpDestinations(
          rule.route ?? [],
          id,
          owner,
          ctxFor(vsNs, port, gatewayNames(server.gateway, vsNs)),
        );
        return { port, id, virtualService: owner, destinations };
      }
    }
  }
  return null;
}

/** A `tcp`/`tls` rule's weighted destinations, compiled as an HTTP route's would be. */
export function compileTcpDestinations(
  route: NonNullable<TCPRoute['route']>,
  id: string,
  owner: { readonly namespace: string; readonly name: string },
  ctx: RouteContext,
): readonly RouteDestination[] {
  const compiled = compileRoute({ route }, id, { virtualService: owner, delegate: null }, ctx);
  const action = compiled?.route.action;
  return action?.kind === 'route' ? action.destinations : [];
}

/**
 * The SNI filter chains of each TLS PASSTHROUGH server port, as istiod builds them
 * (gateway.go `createGatewayTCPFilterChainOpts`): for the VirtualServices bound to the
 * server's Gateway whose hosts meet the server's, each `tls` rule with a route and each of
 * its matches that fits the server's port and Gateway makes a chain for the match's
 * `sniHosts`; a chain naming an SNI host an earlier one claimed is skipped, as istiod skips
 * it. AUTO_PASSTHROUGH servers (SNI-encoded cluster names, multi-network) are not built.
 */
export function buildGatewayTlsRoutes(
  resources: readonly Resource[],
  proxyNamespace: string,
  servers: readonly GatewayServerInfo[],
  ctxFor: GatewayContext,
): GatewayTlsPort[] {
  const out: GatewayTlsPort[] = [];
  const ports = [...new Set(servers.filter(isPassthroughServer).map((s) => s.port))];
  for (const port of ports) {
    const chains: GatewayTlsChain[] = [];
    const claimed = new Set<string>();
    for (const server of servers) {
      if (!isPassthroughServer(server) || server.port !== port) continue;
      const gw = `${server.gateway.namespace}/${server.gateway.name}`;
      for (const vs of boundVirtualServices(resources, proxyNamespace, server)) {
        const vsNs = vs.resource.metadata.namespace;
        const rules = (vs.resource.spec as { tls?: readonly TLSRoute[] }).tls ?? [];
        for (const [i, rule] of rules.entries()) {
          if ((rule.route?.length ?? 0) === 0) continue;
          const owner = { namespace: vsNs, name: vs.resource.metadata.name };
          const id = `${vsNs}/${owner.name}/tls/${i}`;
          // The rule's destinations, compiled once for every match that makes a chain.
          let destinations: readonly RouteDestination[] | null = null;
          for (const match of rule.match) {
            if (!l4Matches([match], port, gw, vsNs)) continue;
            const sni = match.sniHosts.map((h) => h.toLowerCase());
            if (sni.some((h) => claimed.has(h))) continue;
            for (const h of sni) claimed.add(h);
            destinations ??= compileTcpDestinations(
              rule.route ?? [],
              id,
              owner,
              ctxFor(vsNs, port, gatewayNames(server.gateway, vsNs)),
            );
            chains.push({ sniHosts: sni, id, virtualService: owner, destinations });
          }
        }
      }
    }
    out.push({ port, chains });
  }
  return out;
}
