import type { Resource } from '../config/resource.js';
import type { PolicyTargetRefIn, SelectorIn } from './spec-types.js';
import { labelsMatch, type WorkloadIdentity } from './workload.js';

/** Label Kubernetes Gateway deployments carry; a sidecar-style targetRef names that Gateway. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/**
 * Does a `targetRef(s)` policy attach to this workload? For a pod with its own
 * proxy only a `Gateway` reference naming the pod's gateway counts (istio
 * model/policyattachment.go); Service references are for waypoints.
 */
function targetRefsMatch(
  refs: readonly PolicyTargetRefIn[],
  policyNs: string,
  workload: WorkloadIdentity,
): boolean {
  const gw = workload.labels[GATEWAY_NAME_LABEL];
  if (gw === undefined) return false;
  return refs.some(
    (r) =>
      r.kind === 'Gateway' &&
      r.name === gw &&
      (r.namespace ?? policyNs) === workload.namespace &&
      policyNs === workload.namespace,
  );
}

/**
 * Whether a security policy (PeerAuthentication, RequestAuthentication,
 * AuthorizationPolicy) applies to the workload: it lives in the workload's
 * namespace or the root namespace, and its selector (absent = all) or
 * targetRefs pick the workload (istio model `getConfigsForWorkload`).
 */
export function policySelects(
  r: Resource,
  spec: {
    readonly selector?: SelectorIn | undefined;
    readonly targetRef?: PolicyTargetRefIn | undefined;
    readonly targetRefs?: readonly PolicyTargetRefIn[] | undefined;
  },
  workload: WorkloadIdentity,
  rootNamespace: string,
): boolean {
  const ns = r.metadata.namespace;
  if (ns !== workload.namespace && ns !== rootNamespace) return false;
  const refs = [...(spec.targetRef === undefined ? [] : [spec.targetRef]), ...(spec.targetRefs ?? [])];
  if (refs.length > 0) return targetRefsMatch(refs, ns, workload);
  return labelsMatch(spec.selector?.matchLabels ?? {}, workload.labels);
}

/** True when a selector with at least one label is set. */
export function hasSelector(selector: SelectorIn | undefined): boolean {
  return Object.keys(selector?.matchLabels ?? {}).length > 0;
}
