import type { MeshPlan } from '../compile/plan-types.js';
import { explainDestinations, type DestinationExplanation } from './explain-outbound.js';

/** Why a TCP connection goes where it goes (`meshlet explain --connect`, `mesh.connect`). */
export interface ConnectExplanation {
  readonly kind: 'connect';
  readonly workload: string;
  readonly target: { readonly host: string; readonly port: number };
  readonly outcome: string;
  /** The tcp route (`<ns>/<vs>/tcp/<i>`, or null for the port's default cluster); null: no TCP service port. */
  readonly route: { readonly id: string | null; readonly virtualService: string | null } | null;
  readonly destinations: readonly DestinationExplanation[];
}

/**
 * A connection `mesh.connect` would open, walked as the sidecar's tcp_proxy chain decides
 * it (compile/sidecar-tcp-routes.ts): the service port's tcp route (or default cluster),
 * its weighted destinations with their clusters and policies; for a host outside the
 * registry, PassthroughCluster or, under REGISTRY_ONLY, BlackHoleCluster.
 */
export function explainConnect(plan: MeshPlan, host: string, port: number): ConnectExplanation {
  const w = plan.workload;
  const base = { kind: 'connect' as const, workload: `${w.namespace}/${w.name}`, target: { host, port } };
  const route = plan.outbound.tcp?.lookup(host, port) ?? null;
  if (route === null) {
    const blocked = plan.meshConfig.outboundTrafficPolicy === 'REGISTRY_ONLY';
    return {
      ...base,
      outcome: blocked
        ? 'refused: no TCP service port in the registry, and outboundTrafficPolicy is REGISTRY_ONLY (BlackHoleCluster)'
        : 'connects directly: no TCP service port in the registry (PassthroughCluster, ALLOW_ANY)',
      route: null,
      destinations: [],
    };
  }
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
        ? "tcp_proxy to the service port's default cluster (no VirtualService tcp route applies)"
        : `tcp_proxy by VirtualService ${vs} tcp route ${route.id}`,
    route: { id: route.id, virtualService: vs },
    destinations: dests,
  };
}
