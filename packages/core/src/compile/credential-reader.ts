import type { Cluster, MeshPlan } from './plan-types.js';

/** `configmap://[<ns>/]<name>`: a CA bundle from a ConfigMap (credentials.KubernetesConfigMapTypeURI). */
export const CONFIGMAP_PREFIX = 'configmap://';

/**
 * Whether the proxy reads the secret a cluster's DestinationRule `tls.credentialName` names
 * (istio cluster_tls.go buildUpstreamClusterTLSContext): a gateway does, and a sidecar only
 * when the rule has a `workloadSelector` (`isDrWithSelector`) or the name is a
 * `configmap://` CA bundle, which anyone may read. For SIMPLE and MUTUAL without it, istiod
 * builds the cluster with no TLS context at all, so the sidecar speaks plaintext.
 */
export function readsCredential(plan: Pick<MeshPlan, 'gateway'>, cluster: Cluster, name: string): boolean {
  return (
    plan.gateway != null ||
    cluster.destinationRuleSelectsWorkload === true ||
    name.startsWith(CONFIGMAP_PREFIX)
  );
}
