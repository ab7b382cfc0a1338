import type { ConfigSnapshot } from '../config/snapshot.js';
import type { MeshPlan } from './plan-types.js';
import { validateWorkload, type WorkloadIdentity } from './workload.js';
import { buildRegistry, type StaticEndpoint } from './registry.js';
import { createDestinationRuleIndex } from './destination-rules.js';
import { buildOutbound } from './outbound.js';
import { sidecarScope } from './sidecar-scope.js';
import { inboundPorts } from './inbound-ports.js';
import { gatewayInfo } from './gateway-binding.js';
import { gatewayHostLookup } from './gateway-routes.js';
import { buildInbound } from './inbound.js';
import { serviceMtlsModes } from './service-mtls.js';
import { deepFreeze } from './freeze.js';
import { localClusterLocalities, localServiceEndpoints, selfDiscoveryEnabled } from './zone-aware.js';
import { DEFAULT_ISTIOD_FEATURES, type IstiodFeatures } from './istiod-features.js';
import { acceptsHttp10 } from './http10.js';

export interface CompilePlanOptions {
  /** Static endpoints per host (`reviews.default.svc.cluster.local` or a short name in the workload's namespace). */
  readonly endpoints?: Readonly<Record<string, readonly StaticEndpoint[]>>;
  /** istiod's feature flags (istiod-features.ts); each defaults to istiod's default. */
  readonly istiodFeatures?: Partial<IstiodFeatures>;
  /**
   * The proxy's own environment, as pilot-agent reads it (`ISTIO_META_ENABLE_SELF_DISCOVERY`,
   * `ISTIO_META_HTTP10`);
   * none by default, so the plan depends on its arguments only.
   */
  readonly proxyEnv?: Readonly<Record<string, string | undefined>>;
}

/**
 * Compiles the Istio configuration in `snapshot` into the deeply frozen plan one
 * workload runs on: its service registry, outbound virtual hosts and routes
 * (VirtualService selection, conflicts, delegates, matches compiled once),
 * clusters with effective DestinationRule policy, and the inbound
 * PeerAuthentication, RequestAuthentication, AuthorizationPolicy and local
 * rate limits that select it. Pure: the same input gives an equal plan.
 *
 * @throws MeshletError `MESHLET_ERR_CONFIG_WORKLOAD` when `workload` is malformed.
 */
export function compilePlan(
  snapshot: ConfigSnapshot,
  workload: WorkloadIdentity,
  options: CompilePlanOptions = {},
): MeshPlan {
  const w = validateWorkload(workload);
  const root = snapshot.meshConfig.rootNamespace;
  const registry = buildRegistry(snapshot.resources, snapshot.platform, options.endpoints, w.namespace);
  const destinationRule = createDestinationRuleIndex(snapshot.resources, w, root);
  const gateway = gatewayInfo(snapshot.resources, w);
  // A gateway has no Sidecar scope (push_context.go DefaultSidecarScopeForGateway).
  const scope = gateway === null ? sidecarScope(snapshot.resources, w, root) : null;
  const { gatewayHosts, gatewayTcp, gatewayTls, ...outbound } = buildOutbound(
    snapshot.resources,
    w,
    registry,
    destinationRule,
    {
      localityLbSetting: snapshot.meshConfig.localityLbSetting,
      zoneAwareLbSetting: snapshot.meshConfig.zoneAwareLbSetting,
      // loadbalancer.go: with self-discovery, the proxy's own service endpoints in its region.
      localCluster: selfDiscoveryEnabled(snapshot.meshConfig.defaultConfig, options.proxyEnv ?? {})
        ? localClusterLocalities(localServiceEndpoints(snapshot.platform, registry, w, snapshot.resources), w)
        : null,
    },
    gateway?.servers ?? null,
    scope,
  );
  const serviceMtls = serviceMtlsModes(snapshot.resources, root);
  const istiodFeatures: IstiodFeatures = { ...DEFAULT_ISTIOD_FEATURES, ...options.istiodFeatures };
  const plan: MeshPlan = {
    workload: w,
    meshConfig:
      scope?.outboundTrafficPolicy == null
        ? snapshot.meshConfig
        : { ...snapshot.meshConfig, outboundTrafficPolicy: scope.outboundTrafficPolicy },
    sidecar: scope?.sidecar ?? null,
    istiodFeatures,
    outbound: { ...outbound, serviceMtls },
    gateway:
      gateway === null || gatewayHosts === null
        ? null
        : {
            ...gateway,
            routes: {
              ...outbound,
              virtualHosts: gatewayHosts,
              conflicts: [],
              serviceMtls,
              lookup: gatewayHostLookup(gatewayHosts),
            },
            tcp: gatewayTcp,
            tls: gatewayTls,
          },
    inbound: {
      ...buildInbound(snapshot.resources, w, root, snapshot.meshConfig, istiodFeatures),
      ports: inboundPorts(w, snapshot.platform, snapshot.resources, registry),
      acceptHttp10: acceptsHttp10(istiodFeatures, snapshot.meshConfig.defaultConfig, options.proxyEnv ?? {}),
    },
  };
  return deepFreeze(plan);
}
