import type { Endpoint, Service } from '../compile/plan-types.js';

/**
 * The workload name istiod gives an endpoint, which its `istio.workload` metadata carries
 * (util.go AppendLbEndpointMetadata) and the stats filter reports as `destination_workload`
 * when the upstream sends no peer metadata: the `service.istio.io/workload-name` label; for a
 * ServiceEntry's inline endpoint `<entry>-<index>` (serviceentry/conversion.go
 * convertServiceEntryToInstances), for the host of a DNS entry without endpoints the entry's
 * name; '' where meshlet cannot tell (a pod's owner).
 */
export function endpointWorkloadName(endpoint: Endpoint, svc: Service | undefined): string {
  const label = endpoint.labels['service.istio.io/workload-name'];
  if (label !== undefined && label !== '') return label;
  if (
    svc === undefined ||
    svc.source !== 'ServiceEntry' ||
    svc.resource === null ||
    svc.selectsWorkloads === true
  )
    return '';
  if (endpoint.address === svc.host) return svc.resource.name;
  // Every port lists the entry's endpoints in its order.
  for (const list of Object.values(svc.endpoints)) {
    const i = list.indexOf(endpoint);
    if (i >= 0) return `${svc.resource.name}-${i}`;
  }
  return '';
}
