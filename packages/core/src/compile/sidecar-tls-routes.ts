import type { TLSRoute } from '../config/schema/virtual-service.js';
import { matchServerName } from '../gateway/sni-match.js';
import { cidrContains, parseCidr, parseIp, type Ip } from '../inbound/authz/ip.js';
import { hostAliases } from './domains.js';
import type { RouteContext } from './compile-route.js';
import { compileTcpDestinations } from './gateway-tcp-routes.js';
import type { Service, ServicePort, TcpRoute, TlsChain, TlsRouteTable } from './plan-types.js';
import { defaultTcpRoute, matchL4 } from './sidecar-tcp-routes.js';
import type { SelectedVirtualService } from './vs-selection.js';
import type { WorkloadIdentity } from './workload.js';

/** Ports a sidecar matches by SNI: TLS and HTTPS (istio protocol.IsTLS). */
export function isTlsRoutePort(p: ServicePort): boolean {
  return p.protocol === 'TLS' || p.protocol === 'HTTPS';
}

/**
 * Whether a service has an outbound listener of its own (`<vip>_<port>`): a Kubernetes
 * Service (its ClusterIP) or a ServiceEntry with an address that is no CIDR. The others
 * share the `0.0.0.0_<port>` listener, where only the SNI tells them apart (tls.go).
 */
function hasVip(svc: Service): boolean {
  return svc.source === 'Service' || svc.addresses.some((a) => !a.includes('/'));
}

/**
 * The SNI filter chains of one TLS service port on a sidecar, as istiod builds them (tls.go
 * `buildSidecarOutboundTLSFilterChainOpts`): each `tls` rule with a route, of the
 * VirtualServices for the host in istiod's order, makes a chain for each match that holds
 * for this proxy (gateways `mesh`, `sourceLabels`, `port`, `sourceNamespace`), on the
 * match's `sniHosts` (and `destinationSubnets`); a match whose SNI hosts and subnets an
 * earlier chain has is skipped. Without any, the service's default cluster takes the port:
 * on its own listener whatever the SNI, on the shared `0.0.0.0` listener for its host name.
 */
export function sidecarTlsChains(
  svc: Service,
  port: ServicePort,
  candidates: readonly SelectedVirtualService[],
  workload: WorkloadIdentity,
  ctxFor: (namespace: string, port: number) => RouteContext,
): TlsChain[] {
  const chains: TlsChain[] = [];
  const handled = new Set<string>();
  for (const vs of candidates) {
    const vsNs = vs.resource.metadata.namespace;
    const owner = { namespace: vsNs, name: vs.resource.metadata.name };
    const rules = (vs.resource.spec as { tls?: readonly TLSRoute[] }).tls ?? [];
    for (const [i, rule] of rules.entries()) {
      if ((rule.route?.length ?? 0) === 0) continue;
      let route: TcpRoute | null = null;
      for (const m of rule.match) {
        if (!matchL4(m, workload, port.number)) continue;
        const sniHosts = m.sniHosts.map((h) => h.toLowerCase());
        const subnets = m.destinationSubnets ?? [];
        const hash = `${sniHosts.join(',')}|${subnets.join(',')}`;
        if (handled.has(hash)) continue;
        handled.add(hash);
        const id = `${vsNs}/${owner.name}/tls/${i}`;
        route ??= {
          host: svc.host,
          port: port.number,
          id,
          virtualService: owner,
          destinations: compileTcpDestinations(rule.route ?? [], id, owner, ctxFor(vsNs, port.number)),
        };
        chains.push({ sniHosts, destinationSubnets: subnets, route });
      }
    }
  }
  if (chains.length > 0) return chains;
  ctxFor(svc.namespace, port.number).useCluster(svc.host, port.number, null);
  const route = defaultTcpRoute(svc, port);
  // A chain without server names takes any SNI, and none (sni-match.ts writes it `*`); on
  // the shared listener, the host's name and its ExternalName aliases' (tls.go).
  return [
    {
      sniHosts: hasVip(svc)
        ? ['*']
        : [svc.host, ...(svc.aliases ?? []).flatMap((a) => hostAliases(a, workload.namespace, []))],
      destinationSubnets: [],
      route,
    },
  ];
}

/**
 * A sidecar's outbound TLS listeners: a service with a VIP has its own for each TLS port;
 * the others' chains are merged into one `0.0.0.0_<port>` listener per port, in registry
 * order. A connection is looked up by the name or address it dialled: the listener of
 * that service's VIP, else the port's shared listener; then Envoy's filter chain match
 * (sni-match.ts; `destinationSubnets` against the dialled address or the service's).
 */
export class SidecarTlsListeners {
  readonly #own = new Map<string, { svc: Service; chains: TlsChain[] }>();
  readonly #shared = new Map<number, { svc: Service; chains: TlsChain[] }[]>();
  readonly #all: TlsChain[] = [];

  add(svc: Service, port: number, aliases: readonly string[], chains: TlsChain[]): void {
    this.#all.push(...chains);
    if (hasVip(svc)) {
      for (const a of aliases)
        if (!this.#own.has(`${a}:${port}`)) this.#own.set(`${a}:${port}`, { svc, chains });
      return;
    }
    const list = this.#shared.get(port);
    if (list === undefined) this.#shared.set(port, [{ svc, chains }]);
    else list.push({ svc, chains });
  }

  table(): TlsRouteTable {
    const own = this.#own;
    const shared = this.#shared;
    return {
      chains: this.#all,
      lookup: (host, port, sni) => {
        const h = host.toLowerCase();
        const listener = own.get(`${h}:${port}`);
        const entries = listener !== undefined ? [listener] : shared.get(port);
        if (entries === undefined) return null;
        const dialled = parseIp(h);
        const candidates = entries.flatMap(({ svc, chains }) =>
          chains
            .filter(
              (c) => c.destinationSubnets.length === 0 || subnetsHold(c.destinationSubnets, dialled, svc),
            )
            .map((c) => ({ names: c.sniHosts, value: c })),
        );
        return { chain: matchServerName(candidates, sni === null ? null : sni.toLowerCase()) };
      },
    };
  }
}

/** A match's `destinationSubnets` hold the dialled address, else one of the service's. */
function subnetsHold(subnets: readonly string[], dialled: Ip | null, svc: Service): boolean {
  const addresses = dialled !== null ? [dialled] : svc.addresses.filter((a) => !a.includes('/')).map(parseIp);
  return subnets.some((s) => {
    const cidr = parseCidr(s);
    return addresses.some((a) => cidrContains(cidr, a));
  });
}
