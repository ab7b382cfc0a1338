import type { Resource } from '../config/resource.js';
import type { PlatformResource } from '../config/snapshot.js';
import type { InboundPort } from './inbound-types.js';
import type { Service, ServicePort } from './plan-types.js';
import { isHttpPort } from './registry.js';
import { byAgeThenHost, selectingServiceEntries, selectingServices } from './selecting-services.js';
import type { WorkloadIdentity } from './workload.js';

/**
 * istio networking ModelProtocolToListenerProtocol: the HTTP family is served by an HTTP
 * chain, a port with no declared protocol by protocol detection (`AUTO`), the rest by TCP.
 */
function listenerProtocol(p: ServicePort): InboundPort['protocol'] {
  if (p.protocol === 'UNKNOWN') return 'AUTO';
  return isHttpPort(p) ? 'HTTP' : 'TCP';
}

/**
 * The workload's inbound ports, as istiod builds a sidecar's inbound chains
 * (listener_inbound.go `getFilterChainsByServicePort`): each port of the Services and
 * ServiceEntries that select it, at its target port (the service port when none is given
 * by number), the oldest service first when two claim one port.
 */
export function inboundPorts(
  workload: WorkloadIdentity,
  platform: readonly PlatformResource[],
  resources: readonly Resource[],
  registry: ReadonlyMap<string, Service>,
): InboundPort[] {
  const targets = [...selectingServices(workload, platform), ...selectingServiceEntries(workload, resources)];
  targets.sort(byAgeThenHost);
  const out = new Map<number, InboundPort>();
  for (const t of targets) {
    for (const p of registry.get(t.host)?.ports ?? []) {
      const port = p.targetPort ?? p.number;
      if (!out.has(port)) out.set(port, { port, protocol: listenerProtocol(p), service: t.host });
    }
  }
  return [...out.values()].sort((a, b) => a.port - b.port);
}
