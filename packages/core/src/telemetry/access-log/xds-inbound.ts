import type { DestinationService } from '../metrics/metric-event.js';
import { INBOUND_PASSTHROUGH_CLUSTER } from '../metrics/destination-service.js';
import { cachedXdsNode, type XdsNodeSource } from '../xds-node.js';
import { EMPTY_METADATA, type EntryXds, type XdsMetadata } from './xds-facts.js';

/** The inbound cluster's `istio.services` (pilot cluster_builder.go addTelemetryMetadata). */
function inboundClusterMetadata(service: DestinationService): XdsMetadata {
  return {
    istio: { services: [{ host: service.host, name: service.name, namespace: service.namespace }] },
  };
}

/**
 * The xDS resources of an inbound request as istiod builds a sidecar's: the filter chain
 * `0.0.0.0_<port>` of the virtual inbound listener (listener_inbound.go inboundChainConfig
 * Name) with its route configuration's one virtual host `inbound|http|<service port>` and default
 * route (httproute.go buildSidecarInboundHTTPRouteConfig, no metadata), the inbound cluster
 * with `istio.services` and one endpoint, the application (no metadata). A port no
 * Service targets takes the passthrough chain `virtualInbound-catchall-http`, whose
 * virtual host is `inbound|http|0` and whose cluster (InboundPassthroughCluster, original
 * destination) carries no metadata. `allowed`: the request reached the application.
 */
export function inboundXds(
  t: XdsNodeSource,
  service: DestinationService,
  port: number,
  allowed: boolean,
): EntryXds {
  const passthrough = service.name === INBOUND_PASSTHROUGH_CLUSTER;
  return {
    node: cachedXdsNode(t),
    filterChainName: passthrough ? 'virtualInbound-catchall-http' : `0.0.0.0_${port}`,
    listenerMetadata: EMPTY_METADATA,
    // The chain's ServicePort names the virtual host (httproute.go: `cc.port.Port`).
    virtualHostName: `inbound|http|${passthrough ? 0 : (service.port ?? port)}`,
    virtualHostMetadata: EMPTY_METADATA,
    routeMetadata: EMPTY_METADATA,
    clusterMetadata: passthrough ? EMPTY_METADATA : inboundClusterMetadata(service),
    upstreamHostMetadata: allowed ? EMPTY_METADATA : null,
    // An original-destination cluster's membership is the hosts it has seen, unknown here.
    numEndpoints: passthrough ? null : 1,
  };
}
