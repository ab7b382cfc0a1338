// Who the proxy is on its spans, as istio-agent and istiod derive it: the service name
// (the proxy's service cluster) and `istio.mesh_id`.
import type { MeshConfig } from '../../config/mesh-config.js';
import type { WorkloadIdentity } from '../../compile/workload.js';

/**
 * The app part of the proxy's service cluster: `app`, then `app.kubernetes.io/name`, then
 * `service.istio.io/canonical-name`, else the workload name (istio pkg/bootstrap/config.go
 * serviceClusterOrDefault with pkg/kube/labels GetApp, the reverse of the canonical-service order).
 */
export function serviceClusterApp(w: WorkloadIdentity): string {
  const l = w.labels;
  return l['app'] || l['app.kubernetes.io/name'] || l['service.istio.io/canonical-name'] || w.name;
}

/**
 * `istio.mesh_id`: the proxy's MESH_ID node metadata (istio core/tracing.go reads
 * `node.Metadata.MeshID`), which ProxyConfig `meshId` sets and istio-agent defaults to the
 * trust domain.
 */
export function proxyMeshId(mesh: Pick<MeshConfig, 'defaultConfig' | 'trustDomain'>): string {
  const id = mesh.defaultConfig['meshId'];
  return typeof id === 'string' && id !== '' ? id : mesh.trustDomain;
}
