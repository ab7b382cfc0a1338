import type { Resource } from '../config/resource.js';
import type { PlatformResource } from '../config/snapshot.js';
import { isRecord } from '../config/validate/is-record.js';
import { DOMAIN_SUFFIX } from './hosts.js';
import type { ServiceEntryIn } from './spec-types.js';
import { labelsMatch } from './workload.js';

/** A Kubernetes Service of the workload's namespace whose selector picks the workload. */
export interface SelectingService {
  /** `<name>.<namespace>.svc.<domain>`. */
  readonly host: string;
  readonly name: string;
  /** `metadata.creationTimestamp`, epoch ms; null when the manifest has none. */
  readonly created: number | null;
  readonly spec: Readonly<Record<string, unknown>>;
}

/**
 * The Services in the workload's namespace whose non-empty selector matches its labels: the
 * pod's service targets (istio model/context.go SetServiceTargets). An empty selector selects
 * nothing in Kubernetes, and an ExternalName Service has no pods.
 */
export function selectingServices(
  workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> },
  platform: readonly PlatformResource[],
): SelectingService[] {
  const out: SelectingService[] = [];
  for (const p of platform) {
    if (p.kind !== 'Service' || p.metadata.namespace !== workload.namespace) continue;
    const spec = p.body['spec'];
    if (!isRecord(spec) || spec['type'] === 'ExternalName' || !isRecord(spec['selector'])) continue;
    const selector: Record<string, string> = {};
    for (const [k, v] of Object.entries(spec['selector'])) if (typeof v === 'string') selector[k] = v;
    if (Object.keys(selector).length === 0 || !labelsMatch(selector, workload.labels)) continue;
    out.push({
      host: `${p.metadata.name}.${workload.namespace}.svc.${DOMAIN_SUFFIX}`,
      name: p.metadata.name,
      created: p.metadata.creationTimestamp,
      spec,
    });
  }
  return out;
}

/** A ServiceEntry host whose `workloadSelector` picks the workload. */
export interface SelectingEntry {
  /** The entry's host, as written (not a wildcard). */
  readonly host: string;
  readonly created: number | null;
  /** The entry's ports: `number`, and `targetPort` when set. */
  readonly ports: readonly { readonly number: number; readonly targetPort: number | null }[];
}

/**
 * The ServiceEntries in the workload's namespace whose `workloadSelector` picks it: the
 * serviceentry controller makes them service targets of the pods they select, as of a VM
 * (istio serviceentry controller GetProxyServiceTargets), one per non-wildcard host.
 */
export function selectingServiceEntries(
  workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> },
  resources: readonly Resource[],
): SelectingEntry[] {
  const out: SelectingEntry[] = [];
  for (const r of resources) {
    if (r.kind !== 'ServiceEntry' || r.metadata.namespace !== workload.namespace) continue;
    const spec = r.spec as ServiceEntryIn;
    const selector = spec.workloadSelector?.labels ?? {};
    if (Object.keys(selector).length === 0 || !labelsMatch(selector, workload.labels)) continue;
    const ports = (spec.ports ?? []).map((p) => ({ number: p.number, targetPort: p.targetPort ?? null }));
    for (const host of spec.hosts ?? []) {
      if (host.startsWith('*')) continue;
      out.push({ host, created: r.metadata.creationTimestamp, ports });
    }
  }
  return out;
}

/** Oldest first (an undated one after the dated), then by hostname: istio model/context.go SetServiceTargets. */
export function byAgeThenHost(
  a: { readonly created: number | null; readonly host: string },
  b: { readonly created: number | null; readonly host: string },
): number {
  if (a.created !== b.created) {
    if (a.created === null) return 1;
    if (b.created === null) return -1;
    return a.created - b.created;
  }
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}
