import { DOMAIN_SUFFIX } from '../compile/hosts.js';
import { labelsMatch, type WorkloadIdentity } from '../compile/workload.js';
import type { PlatformResource } from '../config/snapshot.js';
import { destinationServiceOf } from './metrics/destination-service.js';
import type { DestinationService } from './metrics/metric-event.js';
import { canonicalService } from './peer-labels.js';

/** A Kubernetes Service selecting the local workload, and the pod ports it sends to. */
interface SelectingService {
  readonly name: string;
  readonly created: number | null;
  readonly podPorts: ReadonlySet<number>;
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => typeof v === 'object' && v !== null;

/**
 * The pod ports a Service reaches: each TCP port's numeric `targetPort`, else its `port`
 * (Kubernetes' default). A named `targetPort` resolves against the pod's container ports,
 * which meshlet is not told, so it reaches none.
 */
function podPortsOf(spec: Readonly<Record<string, unknown>>): Set<number> {
  const out = new Set<number>();
  for (const p of Array.isArray(spec['ports']) ? (spec['ports'] as unknown[]) : []) {
    if (!isRecord(p) || typeof p['port'] !== 'number') continue;
    const protocol = p['protocol'];
    if (typeof protocol === 'string' && protocol.toUpperCase() !== 'TCP') continue;
    const target = p['targetPort'];
    if (target === undefined || target === null) out.add(p['port']);
    else if (typeof target === 'number') out.add(target);
  }
  return out;
}

/** Oldest first (an undated one after the dated), then by name: istio model/context.go SetServiceTargets. */
function byAgeThenHost(a: SelectingService, b: SelectingService): number {
  if (a.created !== b.created) {
    if (a.created === null) return 1;
    if (b.created === null) return -1;
    return a.created - b.created;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The Services in the workload's namespace whose non-empty selector matches its labels. */
function selectingServices(w: WorkloadIdentity, platform: readonly PlatformResource[]): SelectingService[] {
  const out: SelectingService[] = [];
  for (const p of platform) {
    if (p.kind !== 'Service' || p.metadata.namespace !== w.namespace) continue;
    const spec = p.body['spec'];
    if (!isRecord(spec) || spec['type'] === 'ExternalName' || !isRecord(spec['selector'])) continue;
    const selector: Record<string, string> = {};
    for (const [k, v] of Object.entries(spec['selector'])) if (typeof v === 'string') selector[k] = v;
    // An empty selector selects nothing in Kubernetes.
    if (Object.keys(selector).length === 0 || !labelsMatch(selector, w.labels)) continue;
    out.push({ name: p.metadata.name, created: p.metadata.creationTimestamp, podPorts: podPortsOf(spec) });
  }
  return out.sort(byAgeThenHost);
}

export interface InboundServiceOptions {
  readonly workload: WorkloadIdentity;
  /** The snapshot's Kubernetes documents (`ConfigSnapshot.platform`). */
  readonly platform: readonly PlatformResource[];
  /** A configured `destination_service`, which wins; null to derive it. */
  readonly service: string | null;
}

/**
 * `destination_service*` of inbound requests, per local port. Istio reads the inbound
 * cluster's `istio.services[0]` and never the Host header on inbound (istio
 * pilot/pkg/model/telemetry.go disableHostHeaderFallback): the oldest Service selecting
 * the pod with a port that targets the request's port (pilot cluster.go
 * buildInboundClustersFromServiceInstances). Without one meshlet assumes the canonical
 * service's name. The namespace is always the workload's (istio_stats.cc server branch).
 * Each port's answer is computed once and the same object returned after.
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
  const fallback = kube(canonicalService(w.labels, w.name));
  const selecting = selectingServices(w, options.platform);
  if (selecting.length === 0) return () => fallback;
  // Keyed by the local port: a handful per process.
  const byPort = new Map<number, DestinationService>();
  return (port) => {
    let s = byPort.get(port);
    if (s === undefined) {
      const first = selecting.find((x) => x.podPorts.has(port));
      s = first === undefined ? fallback : kube(first.name);
      byPort.set(port, s);
    }
    return s;
  };
}
