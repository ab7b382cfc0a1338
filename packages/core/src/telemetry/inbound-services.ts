import { DOMAIN_SUFFIX } from '../compile/hosts.js';
import { byAgeThenHost, selectingServiceEntries, selectingServices } from '../compile/selecting-services.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { Resource } from '../config/resource.js';
import { isRecord } from '../config/validate/is-record.js';
import type { PlatformResource } from '../config/snapshot.js';
import { destinationServiceOf, INBOUND_PASSTHROUGH_CLUSTER } from './metrics/destination-service.js';
import type { DestinationService } from './metrics/metric-event.js';
import { canonicalService } from './peer-labels.js';

/** A Kubernetes Service or ServiceEntry selecting the local workload, and the pod ports it sends to. */
interface ServiceTarget {
  /** The service's hostname (`<name>.<ns>.svc.<domain>`, or the ServiceEntry host). */
  readonly host: string;
  /** Its `destination_service_name`: a Service's name, a ServiceEntry's host. */
  readonly name: string;
  readonly created: number | null;
  /** The pod ports it sends to, each with the service port that targets it (the first one listed). */
  readonly podPorts: ReadonlyMap<number, number>;
  /** A port with a named `targetPort`, which may reach any container port. */
  readonly named: boolean;
}

/**
 * The pod ports a Service reaches: each TCP port's numeric `targetPort`, else its `port`
 * (Kubernetes' default). A named `targetPort` resolves against the pod's container ports,
 * which meshlet is not told: `named` says the Service has one.
 */
function podPortsOf(spec: Readonly<Record<string, unknown>>): { ports: Map<number, number>; named: boolean } {
  const out = new Map<number, number>();
  const add = (pod: number, service: number) => {
    if (!out.has(pod)) out.set(pod, service);
  };
  let named = false;
  for (const p of Array.isArray(spec['ports']) ? (spec['ports'] as unknown[]) : []) {
    if (!isRecord(p) || typeof p['port'] !== 'number') continue;
    const protocol = p['protocol'];
    if (typeof protocol === 'string' && protocol.toUpperCase() !== 'TCP') continue;
    const target = p['targetPort'];
    if (target === undefined || target === null) add(p['port'], p['port']);
    else if (typeof target === 'number') add(target, p['port']);
    else if (typeof target === 'string') named = true;
  }
  return { ports: out, named };
}

/** The Services selecting the workload, with the pod ports each sends to. */
function selectingKubernetesServices(
  w: WorkloadIdentity,
  platform: readonly PlatformResource[],
): ServiceTarget[] {
  return selectingServices(w, platform).map((svc) => {
    const { ports, named } = podPortsOf(svc.spec);
    return { host: svc.host, name: svc.name, created: svc.created, podPorts: ports, named };
  });
}

/** The ServiceEntries selecting the workload, each host a service named by that host (the
 * `istio.services` metadata of the inbound cluster carries the host as its name), on each
 * port's `targetPort`, else its `number`. */
function entryTargets(w: WorkloadIdentity, resources: readonly Resource[]): ServiceTarget[] {
  return selectingServiceEntries(w, resources).map((e) => ({
    host: e.host,
    name: e.host,
    created: e.created,
    podPorts: new Map(e.ports.map((p) => [p.targetPort ?? p.number, p.number] as const)),
    named: false,
  }));
}

/**
 * A request to a port no Service targets takes the virtual inbound listener's passthrough
 * chain to `InboundPassthroughCluster` (pilot listener_inbound.go
 * buildInboundPassthroughChains), a cluster without `istio.services` metadata. The server's
 * stats filter names the service after that cluster and, with the Host header fallback off,
 * reports the canonical service, bare, as `destination_service` (istio/proxy
 * source/extensions/filters/http/istio_stats/istio_stats.cc populatePeerInfo).
 */
function inboundPassthrough(w: WorkloadIdentity): DestinationService {
  return Object.freeze({
    host: canonicalService(w.labels, w.name),
    name: INBOUND_PASSTHROUGH_CLUSTER,
    namespace: w.namespace,
  });
}

/**
 * Envoy's `%UPSTREAM_CLUSTER_RAW%` of an inbound request: `InboundPassthroughCluster` when
 * no Service targets the port (`service` is then the passthrough's), else the port's
 * inbound cluster `inbound|<port>||` (model.BuildInboundSubsetKey).
 */
export function inboundClusterOf(service: DestinationService, port: number): string {
  return service.name === INBOUND_PASSTHROUGH_CLUSTER ? INBOUND_PASSTHROUGH_CLUSTER : `inbound|${port}||`;
}

export interface InboundServiceOptions {
  readonly workload: WorkloadIdentity;
  /** The snapshot's Kubernetes documents (`ConfigSnapshot.platform`). */
  readonly platform: readonly PlatformResource[];
  /** The snapshot's Istio resources, for ServiceEntries selecting the workload. */
  readonly resources?: readonly Resource[];
  /** A configured `destination_service`, which wins; null to derive it. */
  readonly service: string | null;
}

/**
 * `destination_service*` of inbound requests, per local port. Istio reads the inbound
 * cluster's `istio.services[0]` and never the Host header on inbound (istio
 * pilot/pkg/model/telemetry.go disableHostHeaderFallback): the oldest Service selecting
 * the pod with a port that targets the request's port (pilot cluster.go
 * buildInboundClustersFromServiceInstances). A port no Service targets has no inbound
 * chain: the request goes through `InboundPassthroughCluster`, which carries no service
 * metadata (`inboundPassthrough`); that needs the config to list the namespace's Services.
 * The namespace is always the workload's (istio_stats.cc
 * server branch). Each port's answer is computed once and the same object returned after.
 */
export function inboundServiceLookup(options: InboundServiceOptions): (port: number) => DestinationService {
  const w = options.workload;
  const ns = w.namespace;
  const kube = (name: string) =>
    destinationServiceOf(`${name}.${ns}.svc.${DOMAIN_SUFFIX}`, { namespace: ns });
  if (options.service !== null) {
    const configured = destinationServiceOf(options.service, { namespace: ns });
    return () => configured;
  }
  // Services in the config are taken as the namespace's registry, as istiod's; a config
  // without any leaves meshlet blind, so it assumes the Service named for the canonical
  // service rather than report every request as passthrough traffic.
  const knowsServices = options.platform.some((p) => p.kind === 'Service' && p.metadata.namespace === ns);
  const fallback = knowsServices ? inboundPassthrough(w) : kube(canonicalService(w.labels, w.name));
  const selecting = [
    ...selectingKubernetesServices(w, options.platform),
    ...entryTargets(w, options.resources ?? []),
  ].sort(byAgeThenHost);
  if (selecting.length === 0) return () => fallback;
  // Keyed by the local port: a handful per process.
  const byPort = new Map<number, DestinationService>();
  return (port) => {
    let s = byPort.get(port);
    if (s === undefined) {
      // A named targetPort meshlet cannot resolve is taken to reach the port.
      const first = selecting.find((x) => x.podPorts.has(port)) ?? selecting.find((x) => x.named);
      s =
        first === undefined
          ? fallback
          : destinationServiceOf(first.host, {
              name: first.name,
              namespace: ns,
              port: first.podPorts.get(port) ?? port,
            });
      byPort.set(port, s);
    }
    return s;
  };
}
