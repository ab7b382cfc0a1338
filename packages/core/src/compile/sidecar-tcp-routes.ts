import type { L4MatchAttributes, TCPRoute } from '../config/schema/virtual-service.js';
import { cidrContains, parseCidr, parseIp } from '../inbound/authz/ip.js';
import type { WorkloadIdentity } from './workload.js';
import { compileTcpDestinations } from './gateway-tcp-routes.js';
import { clusterKey } from './clusters.js';
import type { RouteContext } from './compile-route.js';
import type { RouteDestination, Service, ServicePort, TcpRoute } from './plan-types.js';
import type { SelectedVirtualService } from './vs-selection.js';

/**
 * Ports whose connections a sidecar proxies as TCP: declared TCP, MONGO, REDIS, MYSQL (and
 * other non-HTTP, non-TLS protocols), and ports of unknown protocol, which Envoy sniffs and
 * sends through tcp_proxy when the client does not speak HTTP. TLS and HTTPS ports are
 * matched by SNI (`tls` routes) instead.
 */
export function isTcpRoutePort(p: ServicePort): boolean {
  return p.protocol === 'TCP' || p.protocol === 'MONGO' || p.protocol === 'UNKNOWN';
}

/**
 * istio tls.go `matchTCP` and `matchTLS`: every field given must hold for the proxy: its
 * `gateways` name `mesh`, its labels include `sourceLabels`, `port` is the service port,
 * `sourceNamespace` is the proxy's namespace.
 */
export function matchL4(
  m: Pick<L4MatchAttributes, 'gateways' | 'sourceLabels' | 'port' | 'sourceNamespace'>,
  workload: WorkloadIdentity,
  port: number,
): boolean {
  const gatewayMatch = m.gateways === undefined || m.gateways.length === 0 || m.gateways.includes('mesh');
  const labelMatch = Object.entries(m.sourceLabels ?? {}).every(([k, v]) => workload.labels[k] === v);
  const portMatch = m.port === undefined || m.port === 0 || m.port === port;
  const nsMatch =
    m.sourceNamespace === undefined || m.sourceNamespace === '' || m.sourceNamespace === workload.namespace;
  return gatewayMatch && labelMatch && portMatch && nsMatch;
}

/**
 * Whether a match's `destinationSubnets` hold a connection to the service: Envoy matches
 * them on the destination address, which is the service's virtual address when the client
 * dialled the service.
 */
function subnetsHold(subnets: readonly string[], svc: Service): boolean {
  return subnets.some((s) => {
    const cidr = parseCidr(s);
    return svc.addresses.some((a) => cidrContains(cidr, parseIp(a)));
  });
}

/**
 * The TCP route of one service port on a sidecar, as istiod builds its outbound tcp_proxy
 * chain (tls.go `buildSidecarOutboundTCPFilterChainOpts`): the VirtualServices for the
 * host in istiod's order, the first `tcp` rule with a route that has no `match` or a match
 * that holds for this proxy (matchTcp; with `destinationSubnets`, when they hold the
 * service's address) wins, its weighted destinations as the clusters; without one, the
 * service port's default cluster.
 */
export function sidecarTcpRoute(
  svc: Service,
  port: ServicePort,
  candidates: readonly SelectedVirtualService[],
  workload: WorkloadIdentity,
  ctxFor: (namespace: string, port: number) => RouteContext,
): TcpRoute {
  for (const vs of candidates) {
    const vsNs = vs.resource.metadata.namespace;
    const rules = (vs.resource.spec as { tcp?: readonly TCPRoute[] }).tcp ?? [];
    for (const [i, rule] of rules.entries()) {
      if ((rule.route?.length ?? 0) === 0) continue;
      const matches = rule.match ?? [];
      const holds =
        matches.length === 0 ||
        matches.some(
          (m) =>
            matchL4(m, workload, port.number) &&
            ((m.destinationSubnets?.length ?? 0) === 0 || subnetsHold(m.destinationSubnets ?? [], svc)),
        );
      if (!holds) continue;
      const owner = { namespace: vsNs, name: vs.resource.metadata.name };
      const id = `${vsNs}/${owner.name}/tcp/${i}`;
      return {
        host: svc.host,
        port: port.number,
        id,
        virtualService: owner,
        destinations: compileTcpDestinations(rule.route ?? [], id, owner, ctxFor(vsNs, port.number)),
      };
    }
  }
  return defaultTcpRoute(svc, port);
}

/** A service port's default cluster as a tcp_proxy route (no VirtualService rule). */
export function defaultTcpRoute(svc: Service, port: ServicePort): TcpRoute {
  const destination: RouteDestination = {
    host: svc.host,
    subset: null,
    port: port.number,
    weight: 100,
    cluster: clusterKey(svc.host, port.number, null),
    headers: null,
  };
  return { host: svc.host, port: port.number, id: null, virtualService: null, destinations: [destination] };
}
