import type { GatewayPlan, GatewayServerInfo } from '../compile/plan-types.js';
import { isPassthroughServer, isTcpServer } from '../compile/gateway-tcp-routes.js';
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
  return serverPort(w, gw, port, (s) => s.http, 'mesh.gateway', 'HTTP');
}

/** The same for a plain TCP or a TLS PASSTHROUGH server port (`mesh.listenGatewayTcp`). */
export function gatewayTcpPort(
  w: WorkloadIdentity,
  gw: Pick<GatewayPlan, 'gateways' | 'servers'> | null | undefined,
  port: number | undefined,
): number {
  return serverPort(
    w,
    gw,
    port,
    (s) => isTcpServer(s) || isPassthroughServer(s),
    'mesh.listenGatewayTcp',
    'TCP or TLS passthrough',
  );
}

function serverPort(
  w: WorkloadIdentity,
  gw: Pick<GatewayPlan, 'gateways' | 'servers'> | null | undefined,
  port: number | undefined,
  serves: (s: GatewayServerInfo) => boolean,
  api: string,
  kind: string,
): number {
  if (gw === null || gw === undefined) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `${api}: workload ${w.namespace}/${w.name} is not a gateway; give it the labels a Gateway's selector names (e.g. istio: ingressgateway)`,
      { option: 'gateway' },
    );
  }
  const ports = [...new Set(gw.servers.filter(serves).map((s) => s.port))].sort((a, b) => a - b);
  if (port === undefined) {
    if (ports.length === 1) return ports[0]!;
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      ports.length === 0
        ? `${api}: no Gateway selecting ${w.namespace}/${w.name} has ${kind === 'HTTP' ? 'an' : 'a'} ${kind} server (Gateways: ${gw.gateways.map((g) => `${g.namespace}/${g.name}`).join(', ') || 'none'})`
        : `${api}: the Gateways have ${kind} servers on ports ${ports.join(', ')}; pass { port } to say which one this listener serves`,
      { option: 'gateway.port' },
    );
  }
  if (!Number.isInteger(port) || !ports.includes(port)) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `${api}: no Gateway server serves ${kind} on port ${String(port)} (${kind} server ports: ${ports.join(', ') || 'none'})`,
      { option: 'gateway.port' },
    );
  }
  return port;
}
