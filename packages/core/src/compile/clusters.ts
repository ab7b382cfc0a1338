import type { Cluster, Endpoint, Service } from './plan-types.js';
import type { EffectiveDestinationRule } from './destination-rules.js';
import type { DestinationRuleIn } from './spec-types.js';
import { clusterLocalityLb, type MeshLocalityInputs } from './locality-lb.js';
import { mergePolicy, normalizePolicy } from './traffic-policy.js';
import { labelsMatch, type WorkloadIdentity } from './workload.js';

/** Envoy/Istio cluster name `outbound|<port>|<subset>|<fqdn>`. */
export function clusterKey(hostName: string, port: number, subset: string | null): string {
  return `outbound|${port}|${subset ?? ''}|${hostName}`;
}

/**
 * One outbound cluster with its effective traffic policy (port-level and
 * subset precedence, defaults filled) and the endpoints its subset selects.
 * An unknown host, an undeclared port or an undefined subset is kept with a status so the runtime
 * answers `503 NC`, as Envoy does when the cluster does not exist.
 */
export function buildCluster(
  hostName: string,
  port: number,
  subset: string | null,
  service: Service | undefined,
  dr: EffectiveDestinationRule | null,
  workload: WorkloadIdentity,
  meshLocality: MeshLocalityInputs,
): Cluster {
  const key = clusterKey(hostName, port, subset);
  const sub = subset === null ? undefined : dr?.subsets.find((s) => s.name === subset);
  // Istio builds clusters only for declared service ports, so a route naming another port
  // points at a cluster Envoy does not have (route.go GetDestinationCluster): `503 NC`.
  const status: Cluster['status'] =
    service === undefined
      ? 'no-host'
      : !service.ports.some((p) => p.number === port)
        ? 'no-port'
        : subset !== null && sub === undefined
          ? 'no-subset'
          : 'ok';
  const subsetLabels = sub?.labels ?? {};
  const all: readonly Endpoint[] = service?.endpoints[String(port)] ?? [];
  const endpoints = status === 'ok' ? all.filter((e) => labelsMatch(subsetLabels, e.labels)) : [];
  const policy = normalizePolicy(mergePolicy(dr?.trafficPolicy, sub?.trafficPolicy, port));
  return {
    key,
    host: hostName,
    port,
    subset,
    status,
    subsetLabels,
    endpoints,
    policy,
    destinationRules: (dr?.rules ?? []).map((r) => ({
      namespace: r.metadata.namespace,
      name: r.metadata.name,
    })),
    ...((dr?.rules[0]?.spec as DestinationRuleIn | undefined)?.workloadSelector === undefined
      ? {}
      : { destinationRuleSelectsWorkload: true }),
    localityLb:
      status === 'ok'
        ? clusterLocalityLb(
            workload,
            { policy },
            meshLocality.localityLbSetting,
            service?.trafficDistribution,
            {
              dr: policy.loadBalancer.zoneAwareLbSetting,
              mesh: meshLocality.zoneAwareLbSetting,
              localCluster: meshLocality.localCluster,
            },
          )
        : null,
  };
}
