import type { MeshPlan } from '../compile/plan-types.js';
import type { InboundRequest } from './engine-types.js';

export const FORWARDED_PORT = 'x-forwarded-port';

/**
 * `proxyHeaders.xForwardedPort.enabled` (the connection manager's `append_x_forwarded_port`,
 * pilot listener_builder.go): the `x-forwarded-port` the connection manager gives a request
 * before any filter runs, or null when it leaves the request alone. It is the port the
 * client connected to. A sidecar's inbound listener does not use the remote address, so it
 * sets one only when the request has none; a gateway's does, and overwrites the client's
 * unless it trusts proxies in front of it and one of them set it (conn_manager_utility.cc
 * mutateRequestHeaders).
 */
export function forwardedPortOf(req: InboundRequest, plan: MeshPlan): string | null {
  if (!plan.meshConfig.proxyHeaders.xForwardedPort) return null;
  if (req.headers[FORWARDED_PORT] !== undefined) {
    const overwrite = plan.inbound.gateway && plan.meshConfig.numTrustedProxies === 0;
    if (!overwrite) return null;
  }
  return String(req.port);
}
