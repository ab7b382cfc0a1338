import type { ConfigSnapshot } from '../../config/snapshot.js';
import type { Resource } from '../../config/resource.js';
import type { TelemetrySpec } from '../../config/schema/telemetry.js';
import { compareByCreation } from '../../compile/hosts.js';
import { policySelects } from '../../compile/policy-selection.js';
import type { WorkloadIdentity } from '../../compile/workload.js';

/** A Telemetry resource with its typed spec. */
export type TelemetryResource = Resource<'Telemetry', TelemetrySpec>;

/** Which level a Telemetry applies at, least specific first. */
export type TelemetryLevel = 'root' | 'namespace' | 'workload';

export interface ScopedTelemetry {
  readonly level: TelemetryLevel;
  readonly resource: TelemetryResource;
}

function isTelemetry(r: Resource): r is TelemetryResource {
  return r.kind === 'Telemetry';
}

const targets = (s: TelemetrySpec): boolean =>
  Object.keys(s.selector?.matchLabels ?? {}).length > 0 ||
  s.targetRef !== undefined ||
  (s.targetRefs?.length ?? 0) > 0;

/**
 * The Telemetry resources that apply to a workload, least specific first, so later
 * entries override earlier ones (istio `pilot/pkg/model/telemetry.go`
 * applicableTelemetries): the oldest selector-less one in the root namespace, the
 * oldest selector-less one in the workload's namespace (when that is not the root),
 * then every one in the workload's namespace whose selector or targetRef picks the
 * workload, oldest first. istiod appends each matching workload-level Telemetry
 * (appendApplicableTelemetries) rather than keeping only the oldest, so their
 * `metrics` and `accessLogging` merge, the newer on top.
 */
export function applicableTelemetries(
  snapshot: Pick<ConfigSnapshot, 'resources' | 'meshConfig'>,
  workload: WorkloadIdentity,
): readonly ScopedTelemetry[] {
  const root = snapshot.meshConfig.rootNamespace;
  const all = snapshot.resources.filter(isTelemetry).slice().sort(compareByCreation);
  const namespaceWide = (ns: string) => all.find((r) => r.metadata.namespace === ns && !targets(r.spec));
  const out: ScopedTelemetry[] = [];
  const rootWide = root === '' ? undefined : namespaceWide(root);
  if (rootWide !== undefined) out.push({ level: 'root', resource: rootWide });
  if (workload.namespace !== root) {
    const nsWide = namespaceWide(workload.namespace);
    if (nsWide !== undefined) out.push({ level: 'namespace', resource: nsWide });
  }
  for (const r of all) {
    if (r.metadata.namespace !== workload.namespace || !targets(r.spec)) continue;
    if (policySelects(r, r.spec, workload, root)) out.push({ level: 'workload', resource: r });
  }
  return Object.freeze(out);
}
