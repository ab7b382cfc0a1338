import type { Resource } from '../config/resource.js';
import { isIpAddress } from '../config/validate/names.js';
import type { Endpoint, ServicePort } from './plan-types.js';
import type { WorkloadEntryIn } from './spec-types.js';
import { labelsMatch } from './workload.js';

/** A ServiceEntry endpoint or WorkloadEntry on one ServiceEntry port; null without an address. */
export function endpointFromEntry(
  e: WorkloadEntryIn,
  port: ServicePort,
  fallbackSa: string | null,
): Endpoint | null {
  if (e.address === undefined || e.address === '') return null;
  return {
    address: e.address,
    // A WorkloadEntry's named port beats the ServiceEntry targetPort, which beats the number ([A-we]).
    port: (port.name !== '' ? e.ports?.[port.name] : undefined) ?? port.targetPort ?? port.number,
    labels: e.labels ?? {},
    serviceAccount: e.serviceAccount ?? fallbackSa,
    weight: e.weight ?? 1,
    locality: e.locality ?? null,
    network: e.network ?? null,
  };
}

/** A Kubernetes Service port; `targetName` when its `targetPort` names a container port. */
export interface KubernetesPort {
  readonly port: ServicePort;
  readonly targetName: string | null;
}

/**
 * The endpoints a Kubernetes Service gets from the WorkloadEntries its `spec.selector`
 * picks in its namespace, per service port number (istio pilot/pkg/serviceregistry/kube/
 * controller/controller.go serviceInstancesFromWorkloadInstances, with
 * PILOT_ENABLE_K8S_SELECT_WORKLOAD_ENTRIES on by default). Only an entry with an IP
 * address qualifies (serviceentry conversion.go DNSServiceEntryOnly). The port is the
 * entry's port named like the Service port, else the numeric `targetPort`, else the port;
 * a named `targetPort` is looked up in the entry's ports and an entry without it is left
 * out (kube controller util.go findServiceTargetPort).
 */
export function serviceWorkloadEntries(
  namespace: string,
  selector: Readonly<Record<string, string>>,
  ports: readonly KubernetesPort[],
  entries: readonly Resource[],
): Record<string, Endpoint[]> {
  const selected = entries
    .filter((r) => r.metadata.namespace === namespace)
    .map((r) => r.spec as WorkloadEntryIn)
    .filter((w) => isIpAddress(w.address ?? '') && labelsMatch(selector, w.labels ?? {}));
  const out: Record<string, Endpoint[]> = {};
  for (const { port, targetName } of ports) {
    const list: Endpoint[] = [];
    for (const w of selected) {
      const e =
        targetName === null
          ? endpointFromEntry(w, port, null)
          : w.ports?.[targetName] === undefined
            ? null
            : endpointFromEntry(w, { ...port, name: targetName }, null);
      if (e !== null) list.push(e);
    }
    out[String(port.number)] = list;
  }
  return out;
}
