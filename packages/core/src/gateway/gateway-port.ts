import type { GatewayPlan } from '../compile/plan-types.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import { MeshletError } from '../errors/meshlet-error.js';

/**
 * The Gateway server port a listener for workload `w` serves: `port` when one of its
 * Gateways (`gw`, the plan's) has an HTTP server there, else the only HTTP server port.
 * Throws `MESHLET_ERR_MESH_OPTIONS` saying what to fix.
 */
export function gatewayPort(
  w: WorkloadIdentity,
  gw: Pick<GatewayPlan, 'gateways' | 'servers'> | null | undefined,
  port: number | undefined,
): number {
  if (gw === null || gw === undefined) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.gateway: workload ${w.namespace}/${w.name} is not a gateway; give it the labels a Gateway's selector names (e.g. istio: ingressgateway)`,
      { option: 'gateway' },
    );
  }
  const ports = [...new Set(gw.servers.filter((s) => s.http).map((s) => s.port))].sort((a, b) => a - b);
  if (port === undefined) {
    if (ports.length === 1) return ports[0]!;
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      ports.length === 0
        ? `mesh.gateway: no Gateway selecting ${w.namespace}/${w.name} has an HTTP server (Gateways: ${gw.gateways.map((g) => `${g.namespace}/${g.name}`).join(', ') || 'none'})`
        : `mesh.gateway: the Gateways have HTTP servers on ports ${ports.join(', ')}; pass { port } to say which one this listener serves`,
      { option: 'gateway.port' },
    );
  }
  if (!Number.isInteger(port) || !ports.includes(port)) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.gateway: no Gateway server serves HTTP on port ${String(port)} (HTTP server ports: ${ports.join(', ') || 'none'})`,
      { option: 'gateway.port' },
    );
  }
  return port;
}
