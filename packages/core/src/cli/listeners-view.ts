import type { GatewayPlan, MeshPlan, RouteDestination } from '../compile/plan-types.js';
import { inboundListenerRows } from './inbound-listeners.js';

/** One row of `meshlet proxy-config listeners` (istioctl's ADDRESS, PORT, MATCH, DESTINATION). */
export interface ListenerRow {
  readonly address: string;
  readonly port: number;
  /** `ALL`, or `SNI: <names>` for a filter chain matched by server name. */
  readonly match: string;
  /** `Route: <route config>`, `Cluster: <cluster>`, or the weighted clusters. */
  readonly destination: string;
}

const ANY_ADDRESS = '0.0.0.0';

/** A tcp_proxy's destination as istioctl words it: one cluster, else each with its weight. */
function clusters(destinations: readonly RouteDestination[]): string {
  if (destinations.length === 0) return 'none (connections are closed)';
  if (destinations.length === 1) return `Cluster: ${(destinations[0] as RouteDestination).cluster}`;
  const total = destinations.reduce((n, d) => n + d.weight, 0);
  return `WeightedClusters: ${destinations
    .map((d) => `${d.cluster} ${Math.round((d.weight / (total || 1)) * 100)}%`)
    .join(', ')}`;
}

/** `SNI: a,b` from a server's `ns/host` entries or a chain's `sniHosts`; `ALL` for `*`. */
function sni(hosts: readonly string[]): string {
  const names = hosts.map((h) => h.slice(h.indexOf('/') + 1));
  return names.includes('*') ? 'ALL' : `SNI: ${names.join(',')}`;
}

/**
 * A gateway's listeners as istiod builds them (gateway.go `buildGatewayListeners`): a plain
 * HTTP server port routes by `http.<port>`; each server whose TLS the gateway terminates is
 * a filter chain matched by its hosts, routing by `https.<port>.<port name>.<gateway>.<ns>`;
 * a plain TCP port is a tcp_proxy to its `tcp` route's clusters; a TLS passthrough port has
 * one chain per `tls` route match, by SNI.
 */
function gatewayListeners(gateway: GatewayPlan): ListenerRow[] {
  const rows: ListenerRow[] = [];
  const seenHttp = new Set<number>();
  for (const s of gateway.servers) {
    if (!s.http) continue;
    const route = `Route: ${s.routeName ?? `http.${s.port}`}`;
    if (s.terminatesTls) {
      rows.push({ address: ANY_ADDRESS, port: s.port, match: sni(s.hosts), destination: route });
    } else if (!seenHttp.has(s.port)) {
      seenHttp.add(s.port);
      rows.push({ address: ANY_ADDRESS, port: s.port, match: 'ALL', destination: route });
    }
  }
  for (const t of gateway.tcp)
    rows.push({ address: ANY_ADDRESS, port: t.port, match: 'ALL', destination: clusters(t.destinations) });
  for (const t of gateway.tls)
    for (const c of t.chains)
      rows.push({
        address: ANY_ADDRESS,
        port: t.port,
        match: sni(c.sniHosts),
        destination: clusters(c.destinations),
      });
  return rows.sort((a, b) => a.port - b.port);
}

/**
 * The listeners of the plan: a gateway's servers (gatewayListeners); for a workload beside a
 * sidecar, one outbound listener per port its route tables serve (`Route: <port>`, what
 * `mesh.fetch` routes by), one per TCP service port on the service's address with its
 * tcp_proxy clusters (what `mesh.connect` connects to), the SNI chains of its TLS
 * ports (what `mesh.connect` and https calls take by server name), and its virtual inbound
 * listener's chains on 15006 (what `mesh.listen` and `mesh.listenTcp` apply per port).
 */
export function listenersView(plan: MeshPlan): ListenerRow[] {
  if (plan.gateway !== undefined && plan.gateway !== null) return gatewayListeners(plan.gateway);
  const ports = [...new Set(plan.outbound.virtualHosts.map((v) => v.port))];
  const rows: ListenerRow[] = ports.map((port) => ({
    address: ANY_ADDRESS,
    port,
    match: 'ALL',
    destination: `Route: ${port}`,
  }));
  for (const r of plan.outbound.tcp?.routes ?? [])
    rows.push({
      address: plan.outbound.services[r.host]?.addresses[0] ?? ANY_ADDRESS,
      port: r.port,
      match: 'ALL',
      destination: clusters(r.destinations),
    });
  for (const c of plan.outbound.tls?.chains ?? [])
    rows.push({
      address: plan.outbound.services[c.route.host]?.addresses[0] ?? ANY_ADDRESS,
      port: c.route.port,
      match: sni(c.sniHosts),
      destination: clusters(c.route.destinations),
    });
  // The virtual inbound listener's chains keep istiod's order (the sort is stable).
  rows.push(...inboundListenerRows(plan));
  return rows.sort((a, b) => a.port - b.port || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
