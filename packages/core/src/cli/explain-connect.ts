import type { MeshPlan, TcpRoute } from '../compile/plan-types.js';
import { sniOf } from '../outbound/request-input.js';
import { explainDestinations, type DestinationExplanation } from './explain-outbound.js';

/** Why a TCP connection goes where it goes (`meshlet explain --connect`, `mesh.connect`). */
export interface ConnectExplanation {
  readonly kind: 'connect';
  readonly workload: string;
  readonly target: { readonly host: string; readonly port: number };
  /** The SNI a TLS port's filter chain was matched by; absent for a TCP port or no TLS listener. */
  readonly sni?: string | null;
  readonly outcome: string;
  /**
   * The tcp or tls route (`<ns>/<vs>/tcp/<i>`, `<ns>/<vs>/tls/<i>`, or null for the port's
   * default cluster); null: none routes the connection.
   */
  readonly route: {
    readonly kind: 'tcp' | 'tls';
    readonly id: string | null;
    readonly virtualService: string | null;
  } | null;
  readonly destinations: readonly DestinationExplanation[];
}

/**
 * A connection `mesh.connect` would open, walked as the sidecar's tcp_proxy chain decides
 * it: a TCP service port's tcp route or default cluster (compile/sidecar-tcp-routes.ts), else
 * the SNI chain of a TLS listener (compile/sidecar-tls-routes.ts; `sni` defaults to the host
 * when it is a name), with the weighted destinations' clusters and policies; for a host
 * outside the registry or a name no chain takes, PassthroughCluster or, under
 * REGISTRY_ONLY, BlackHoleCluster.
 */
export function explainConnect(
  plan: MeshPlan,
  host: string,
  port: number,
  sniOption?: string | null,
): ConnectExplanation {
  const w = plan.workload;
  const base = { kind: 'connect' as const, workload: `${w.namespace}/${w.name}`, target: { host, port } };
  const blocked = plan.meshConfig.outboundTrafficPolicy === 'REGISTRY_ONLY';
  const passthrough = (why: string) =>
    blocked
      ? `refused: ${why}, and outboundTrafficPolicy is REGISTRY_ONLY (BlackHoleCluster)`
      : `connects directly: ${why} (PassthroughCluster, ALLOW_ANY)`;
  const tcp = plan.outbound.tcp?.lookup(host, port) ?? null;
  if (tcp !== null) return routed(plan, base, 'tcp', tcp);
  const sni = sniOption !== undefined ? sniOption : sniOf(host);
  const tls = plan.outbound.tls?.lookup(host, port, sni) ?? null;
  if (tls === null)
    return {
      ...base,
      outcome: passthrough('no TCP or TLS service port in the registry'),
      route: null,
      destinations: [],
    };
  if (tls.chain === null)
    return {
      ...base,
      sni,
      outcome: passthrough(`no filter chain of the TLS listener takes SNI ${sni ?? '(none)'}`),
      route: null,
      destinations: [],
    };
  return { ...routed(plan, base, 'tls', tls.chain.route), sni };
}

function routed(
  plan: MeshPlan,
  base: Pick<ConnectExplanation, 'kind' | 'workload' | 'target'>,
  kind: 'tcp' | 'tls',
  route: TcpRoute,
): ConnectExplanation {
  const dests = explainDestinations(plan, route.destinations);
  const vs =
    route.virtualService === null ? null : `${route.virtualService.name}.${route.virtualService.namespace}`;
  // Endpoints are shown per destination: a config without them (no Kubernetes) says 0.
  const unknown = dests.every((d) => d.status !== 'ok');
  return {
    ...base,
    outcome: unknown
      ? "refused: the route's clusters are unknown to the registry (NC)"
      : route.id === null
        ? `tcp_proxy to the service port's default cluster (no VirtualService ${kind} route applies)`
        : `tcp_proxy by VirtualService ${vs} ${kind} route ${route.id}`,
    route: { kind, id: route.id, virtualService: vs },
    destinations: dests,
  };
}
