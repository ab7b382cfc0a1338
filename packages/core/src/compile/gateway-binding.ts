import type { Resource } from '../config/resource.js';
import type { GatewaySpec } from '../config/schema/gateway.js';
import { isHttpProtocol, parseProtocol } from '../config/schema/networking-common-rules.js';
import { compareByCreation } from './hosts.js';
import type { GatewayPlan, GatewayServerInfo } from './plan-types.js';
import { runsAsGateway } from './gateway-workload.js';
import { labelsMatch, type WorkloadIdentity } from './workload.js';

/**
 * The Gateways whose servers this gateway workload runs, oldest first (istio
 * push_context.go `mergeGateways` over the creation-sorted gateway index): a Gateway
 * with a `selector` picks the workloads carrying its labels; one without a selector
 * applies to every gateway workload. A Gateway in any namespace picks workloads in any
 * namespace (istiod's default, `PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false`). Kubernetes
 * Gateway API resources are not networking Gateways and are skipped.
 */
export function gatewaysFor(resources: readonly Resource[], workload: WorkloadIdentity): Resource[] {
  const out: Resource[] = [];
  for (const r of resources) {
    if (r.kind !== 'Gateway' || !r.apiVersion.startsWith('networking.istio.io/')) continue;
    const selector = (r.spec as GatewaySpec).selector;
    if (
      selector === undefined ||
      Object.keys(selector).length === 0 ||
      labelsMatch(selector, workload.labels)
    )
      out.push(r);
  }
  return out.sort(compareByCreation);
}

/**
 * A server's hosts with `./` turned into the Gateway's own namespace, as istiod stores
 * them (model/gateway.go `sanitizeServerHostNamespace`).
 */
function serverHosts(hosts: readonly string[], namespace: string): string[] {
  return hosts.map((h) => (h.startsWith('./') ? `${namespace}/${h.slice(2)}` : h));
}

/**
 * Every server of the bound Gateways. `http` marks those whose traffic is routed by
 * `http` VirtualService rules: HTTP, HTTP2, gRPC and HTTP_PROXY ports, and HTTPS ports
 * whose TLS the gateway terminates (every mode but PASSTHROUGH and AUTO_PASSTHROUGH;
 * istio gateway.go `buildGatewayListeners`). TLS and TCP servers take `tls` and `tcp`
 * routes, which meshlet's gateway does not serve.
 */
export function gatewayServers(gateways: readonly Resource[]): GatewayServerInfo[] {
  const out: GatewayServerInfo[] = [];
  for (const g of gateways) {
    const ns = g.metadata.namespace;
    for (const s of (g.spec as GatewaySpec).servers ?? []) {
      const protocol = parseProtocol(s.port.protocol);
      // An HTTPS server's tls is required by validation; an unset mode is PASSTHROUGH.
      const tlsMode = s.tls === undefined ? null : (s.tls.mode ?? 'PASSTHROUGH');
      const terminated = protocol === 'HTTPS' && tlsMode !== 'PASSTHROUGH' && tlsMode !== 'AUTO_PASSTHROUGH';
      out.push({
        gateway: { namespace: ns, name: g.metadata.name },
        port: s.port.number,
        portName: s.port.name,
        protocol: s.port.protocol,
        hosts: serverHosts(s.hosts, ns),
        tlsMode,
        httpsRedirect: s.tls?.httpsRedirect === true,
        terminatesTls: terminated,
        tls: s.tls ?? null,
        http: isHttpProtocol(protocol) || terminated,
        routeName: isHttpProtocol(protocol)
          ? `http.${s.port.number}`
          : terminated
            ? `https.${s.port.number}.${s.port.name}.${g.metadata.name}.${ns}`
            : null,
      });
    }
  }
  return out;
}

/**
 * The Gateways a workload runs and their servers, or null for a workload beside a sidecar
 * (gateway-workload.ts `runsAsGateway`): what the plan's `gateway` part and the choice of
 * a listener's port are made from.
 */
export function gatewayInfo(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
): Pick<GatewayPlan, 'gateways' | 'servers'> | null {
  if (!runsAsGateway(resources, workload)) return null;
  const bound = gatewaysFor(resources, workload);
  return {
    gateways: bound.map((g) => ({
      namespace: g.metadata.namespace,
      name: g.metadata.name,
    })),
    servers: gatewayServers(bound),
  };
}
