// The proxy's Node as istio-agent bootstraps a sidecar: `xds.node` in CEL.
import type { WorkloadIdentity } from '../compile/workload.js';
import type { XdsNode } from './access-log/xds-facts.js';
import { canonicalRevision, canonicalService } from './peer-labels.js';
import { serviceClusterApp } from './tracing/proxy-identity.js';

/** What the node is built from: the workload, the telemetry's cluster, and the node and mesh ids its spans carry. */
export interface XdsNodeSource {
  readonly workload: WorkloadIdentity;
  readonly cluster: string;
  readonly tracing: { readonly nodeId: string; readonly meshId: string };
}

/**
 * The sidecar's Node (tools/packaging/common/envoy_bootstrap.json `node`): its id
 * (`sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`), the service cluster `<app>.<ns>`
 * (pkg/bootstrap/config.go serviceClusterOrDefault), the locality, and the node metadata
 * meshlet knows (pkg/model/proxy.go NodeMetadata, set from the injector's
 * `ISTIO_META_*`/pod fields): NAME, NAMESPACE, LABELS (with the canonical labels the
 * injector adds), WORKLOAD_NAME, SERVICE_ACCOUNT, CLUSTER_ID, MESH_ID, INSTANCE_IPS. The
 * id and MESH_ID are the ones the spans carry (`node_id`, `istio.mesh_id`). Envoy names
 * itself as `user_agent_name`.
 */
export function xdsNodeOf(source: XdsNodeSource): XdsNode {
  const w = source.workload;
  const id = source.tracing.nodeId;
  const [region = '', zone = '', subZone = ''] = (w.locality ?? '').split('/');
  const labels: Record<string, string> = {
    ...w.labels,
    'service.istio.io/canonical-name': canonicalService(w.labels, w.name),
    'service.istio.io/canonical-revision': canonicalRevision(w.labels),
  };
  const metadata: Record<string, unknown> = {
    CLUSTER_ID: source.cluster,
    INSTANCE_IPS: id.split('~')[1] ?? '',
    LABELS: labels,
    MESH_ID: source.tracing.meshId,
    NAME: w.name,
    NAMESPACE: w.namespace,
    SERVICE_ACCOUNT: w.serviceAccount,
    WORKLOAD_NAME: w.name,
  };
  return Object.freeze({
    id,
    cluster: `${serviceClusterApp(w)}.${w.namespace}`,
    metadata: Object.freeze(metadata),
    locality: Object.freeze({ region, zone, subZone }),
    userAgentName: 'envoy',
  });
}

const NODES = new WeakMap<object, XdsNode>();

/** {@link xdsNodeOf}, built once per tracing setup (a reload that changes the mesh id builds a new one). */
export function cachedXdsNode(source: XdsNodeSource): XdsNode {
  let n = NODES.get(source.tracing);
  if (n === undefined) {
    n = xdsNodeOf(source);
    NODES.set(source.tracing, n);
  }
  return n;
}
