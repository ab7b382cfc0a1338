import type { Resource } from '../../config/resource.js';
import type { AnalysisContext, PodView } from '../context.js';
import { namespaceLabels, podInAmbient } from '../in-mesh.js';
import { selectorMatches, type Labels } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { obj, strMap } from '../read.js';
import { selectorNotFound } from './gateway-workloads.js';
import { subjectOf } from './subject.js';

const sortedNames = (rs: readonly Resource[]): string[] => rs.map((r) => r.metadata.name).sort();

/** istio util.NamespaceInAmbientMode: dataplane-mode ambient, unless sidecar injection is also on. */
function namespaceInAmbient(labels: Labels | undefined): boolean {
  if (labels === undefined) return false;
  if (labels['istio-injection'] === 'enabled') return false;
  if ((labels['istio.io/rev'] ?? '') !== '') return false;
  return labels['istio.io/dataplane-mode'] === 'ambient';
}

/**
 * istio sidecar.SelectorAnalyzer: IST0101 when a Sidecar's workloadSelector picks
 * no pod of its namespace; IST0110 on each Sidecar selecting a pod another one
 * selects; IST0111 on each of several selector-less Sidecars of a namespace;
 * IST0167 instead when the pod or namespace runs in ambient mode (no sidecar).
 */
export function analyzeSidecarSelectors(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const byPod = new Map<PodView, Resource[]>();
  const byNamespace = new Map<string, Resource[]>();
  for (const r of ctx.byKind('Sidecar')) {
    const labels = strMap(obj(obj(r.spec)['workloadSelector'])['labels']);
    const ns = r.metadata.namespace;
    if (Object.keys(labels).length === 0) {
      byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), r]);
      continue;
    }
    let found = false;
    for (const pod of ctx.pods) {
      if (pod.namespace !== ns || !selectorMatches(labels, pod.labels)) continue;
      found = true;
      byPod.set(pod, [...(byPod.get(pod) ?? []), r]);
    }
    if (!found) out.push(selectorNotFound(r, labels, ['spec', 'workloadSelector', 'labels']));
  }
  const reported = new Set<Resource>();
  const ineffective = (r: Resource, reason: string) => {
    if (reported.has(r)) return;
    reported.add(r);
    out.push(newMessage(MESSAGE_TYPES.IneffectivePolicy, subjectOf(r), [reason]));
  };
  for (const [pod, sidecars] of byPod) {
    const ambient = podInAmbient(pod);
    if (sidecars.length === 1 && !ambient) continue;
    const names = sortedNames(sidecars);
    for (const r of sidecars) {
      if (ambient) ineffective(r, 'selected workload is in ambient mode, the policy has no impact');
      else
        out.push(
          newMessage(
            MESSAGE_TYPES.ConflictingSidecarWorkloadSelectors,
            subjectOf(r),
            [names, pod.namespace, pod.name],
            ['metadata', 'name'],
          ),
        );
    }
  }
  const namespaces = namespaceLabels(ctx);
  for (const [ns, sidecars] of byNamespace) {
    if (namespaceInAmbient(namespaces.get(ns))) {
      for (const r of sidecars) ineffective(r, 'namespace is in ambient mode, the policy has no impact');
      continue;
    }
    if (sidecars.length < 2) continue;
    const names = sortedNames(sidecars);
    for (const r of sidecars)
      out.push(newMessage(MESSAGE_TYPES.MultipleSidecarsWithoutWorkloadSelectors, subjectOf(r), [names, ns]));
  }
  return out;
}
