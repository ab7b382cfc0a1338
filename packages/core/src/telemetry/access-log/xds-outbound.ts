import type { Endpoint, MeshPlan, Service } from '../../compile/plan-types.js';
import type { CallState } from '../../outbound/call-state.js';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER } from '../metrics/destination-service.js';
import { endpointWorkloadName } from '../endpoint-workload.js';
import { cachedXdsNode, type XdsNodeSource } from '../xds-node.js';
import { EMPTY_METADATA, istioConfigPath, type EntryXds, type XdsMetadata } from './xds-facts.js';

/** Where an outbound call went: the request's authority and port, and the host it reached. */
export interface OutboundXdsInput {
  readonly plan: MeshPlan;
  readonly state: CallState;
  readonly authority: string;
  readonly port: number;
  /** `ip:port` of the upstream host, null when no host was picked. */
  readonly upstreamHost: string | null;
}

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * An endpoint's TLS mode (model.IstioEndpoint TLSMode): its `security.istio.io/tlsMode`
 * label; a ServiceEntry's inline endpoint with a service account is `istio`
 * (conversion.go getTLSModeFromWorkloadEntry), the host of a DNS entry `disabled`.
 */
function tlsModeOf(endpoint: Endpoint, svc: Service | undefined): string {
  const label = endpoint.labels['security.istio.io/tlsMode'];
  if (label !== undefined) return label;
  if (svc?.source !== 'ServiceEntry' || endpoint.address === svc.host) return 'disabled';
  return endpoint.serviceAccount !== null && endpoint.serviceAccount !== '' ? 'istio' : 'disabled';
}

/**
 * An endpoint's metadata (pilot/pkg/networking/util/util.go AppendLbEndpointMetadata):
 * `envoy.transport_socket_match.tlsMode` unless disabled, and `istio.workload`,
 * `<workload>;<namespace>;<canonical service>;<canonical revision>;<cluster>` with the
 * revision `latest` left empty (kube labels CanonicalService, CanonicalRevision).
 */
function endpointMetadata(endpoint: Endpoint, svc: Service | undefined, cluster: string): XdsMetadata {
  const l = endpoint.labels;
  const workload = endpointWorkloadName(endpoint, svc);
  const service =
    [l['service.istio.io/canonical-name'], l['app.kubernetes.io/name'], l['app']].find(nonEmpty) ?? workload;
  const revision =
    [l['service.istio.io/canonical-revision'], l['app.kubernetes.io/version'], l['version']].find(nonEmpty) ??
    'latest';
  const out: Record<string, Readonly<Record<string, unknown>>> = {};
  const tlsMode = tlsModeOf(endpoint, svc);
  if (tlsMode !== '' && tlsMode !== 'disabled') out['envoy.transport_socket_match'] = { tlsMode };
  const namespace = svc?.namespace ?? '';
  out['istio'] = {
    workload: `${workload};${namespace};${service};${revision === 'latest' ? '' : revision};${cluster}`,
  };
  return out;
}

/**
 * An outbound cluster's metadata (pilot cluster_builder.go addTelemetryMetadata,
 * cluster.go buildServiceMetadata, util.go AddConfigInfoMetadata, AddSubsetToMetadata):
 * `istio.services` the service it is built for (`host`, `name` a Kubernetes Service's
 * name or a ServiceEntry's host, `namespace`), `istio.config` the DestinationRule that
 * shaped it, `istio.subset` for a subset cluster.
 */
function clusterMetadata(plan: MeshPlan, key: string): { metadata: XdsMetadata; endpoints: number } | null {
  const c = plan.outbound.cluster(key);
  if (c === null || c.status !== 'ok') return null;
  const istio: Record<string, unknown> = {};
  const dr = c.destinationRules[0];
  if (dr !== undefined) istio['config'] = istioConfigPath('destination-rule', dr);
  const svc = plan.outbound.services[c.host];
  if (svc !== undefined) {
    const name = svc.source === 'Service' ? (svc.resource?.name ?? c.host.split('.')[0]) : svc.host;
    istio['services'] = [{ host: svc.host, name, namespace: svc.namespace }];
  }
  if (dr !== undefined && c.subset !== null) istio['subset'] = c.subset;
  return {
    metadata: Object.keys(istio).length === 0 ? EMPTY_METADATA : { istio },
    endpoints: c.endpoints.length,
  };
}

/**
 * The xDS resources of an outbound call as istiod builds a sidecar's: the virtual host
 * `<host>:<port>` (or the catch-all `allow_any` / `block_all`, httproute.go
 * buildCatchAllVirtualHost), none of which carries metadata; the route's `istio.config`,
 * the VirtualService it came from (route.go translateRoute, BuildConfigInfoMetadata), none
 * on Istio's default routes; the cluster's and the endpoint's metadata; the outbound
 * HTTP filter chains have no name (listener.go).
 */
export function outboundXds(
  t: XdsNodeSource & { readonly cluster: string },
  input: OutboundXdsInput,
): EntryXds {
  const { plan, state } = input;
  const vhost = plan.outbound.lookup(input.authority, input.port);
  const catchAll = state.route === 'allow_any' || state.route === 'block_all' ? state.route : null;
  const route = state.matchedRoute;
  const vs = route?.virtualService ?? null;
  const routeMetadata: XdsMetadata | null =
    route !== null
      ? vs === null
        ? EMPTY_METADATA
        : { istio: { config: istioConfigPath('virtual-service', vs) } }
      : catchAll !== null
        ? EMPTY_METADATA
        : null;
  let cluster: { metadata: XdsMetadata; endpoints: number | null } | null = null;
  if (state.cluster === PASSTHROUGH_CLUSTER) cluster = { metadata: EMPTY_METADATA, endpoints: null };
  else if (state.cluster === BLACKHOLE_CLUSTER) cluster = { metadata: EMPTY_METADATA, endpoints: 0 };
  else if (state.cluster !== null) cluster = clusterMetadata(plan, state.cluster);
  const svc = state.service === null ? undefined : plan.outbound.services[state.service];
  const host =
    input.upstreamHost === null
      ? null
      : state.endpoint === null
        ? EMPTY_METADATA
        : endpointMetadata(state.endpoint, svc, t.cluster);
  const vhostName = vhost?.name ?? catchAll;
  return {
    node: cachedXdsNode(t),
    filterChainName: '',
    listenerMetadata: EMPTY_METADATA,
    virtualHostName: vhostName,
    virtualHostMetadata: vhostName === null ? null : EMPTY_METADATA,
    routeMetadata,
    clusterMetadata: cluster?.metadata ?? null,
    upstreamHostMetadata: host,
    numEndpoints: cluster?.endpoints ?? null,
  };
}
