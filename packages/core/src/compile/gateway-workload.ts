import type { Resource } from '../config/resource.js';
import { GATEWAY_NAME_LABEL } from './policy-selection.js';
import { labelsMatch, type WorkloadIdentity } from './workload.js';
/** The `istio` label Istio's gateway charts give their pods. */
const CHART_GATEWAY_LABELS: ReadonlySet<string> = new Set(['ingressgateway', 'egressgateway']);

/**
 * Whether the workload runs as a gateway rather than beside a sidecar. istiod builds a
 * gateway's listeners with `use_remote_address: true` and `xff_num_trusted_hops` from
 * `gatewayTopology.numTrustedProxies` (pilot/pkg/networking/core/gateway.go), a sidecar's
 * inbound with `use_remote_address: false` and no trusted hops (listener_inbound.go), so
 * the two find the client address differently. A workload counts as a gateway when a
 * networking.istio.io Gateway's `selector` picks it, when it is a Kubernetes Gateway
 * deployment, or when it carries the `istio: ingressgateway|egressgateway` label of
 * Istio's charts.
 */
export function runsAsGateway(resources: readonly Resource[], workload: WorkloadIdentity): boolean {
  if (workload.labels[GATEWAY_NAME_LABEL] !== undefined) return true;
  if (CHART_GATEWAY_LABELS.has(workload.labels['istio'] ?? '')) return true;
  for (const r of resources) {
    if (r.kind !== 'Gateway' || r.apiVersion.startsWith('gateway.networking.k8s.io')) continue;
    const selector = (r.spec as { selector?: Readonly<Record<string, string>> }).selector ?? {};
    if (Object.keys(selector).length > 0 && labelsMatch(selector, workload.labels)) return true;
  }
  return false;
}
