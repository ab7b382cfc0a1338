import type { Resource } from '../../config/resource.js';
import type { AnalysisContext } from '../context.js';
import { selectorMatches } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { obj, strMap } from '../read.js';
import { selectorNotFound } from './gateway-workloads.js';
import { subjectOf } from './subject.js';

const sortedNames = (rs: readonly Resource[]): string[] => rs.map((r) => r.metadata.name).sort();

/**
 * istio analyzers/telemetry/selector.go SelectorAnalyzer, for Telemetries with a
 * non-empty `selector.matchLabels` (targetRefs and selector-less ones are left out):
 * IST0101 when the selector picks no pod of the Telemetry's namespace, and IST0159 on
 * every Telemetry of a pod that several select, at its `metadata.name`.
 */
export function analyzeTelemetrySelectors(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const byPod = new Map<string, { namespace: string; name: string; telemetries: Resource[] }>();
  for (const r of ctx.byKind('Telemetry')) {
    const labels = strMap(obj(obj(r.spec)['selector'])['matchLabels']);
    if (Object.keys(labels).length === 0) continue;
    let found = false;
    for (const pod of ctx.pods) {
      if (pod.namespace !== r.metadata.namespace || !selectorMatches(labels, pod.labels)) continue;
      found = true;
      const key = `${pod.namespace}/${pod.name}`;
      const entry = byPod.get(key) ?? { namespace: pod.namespace, name: pod.name, telemetries: [] };
      entry.telemetries.push(r);
      byPod.set(key, entry);
    }
    // istio util.TelemetrySelector: the line of the selector's (first) label.
    if (!found) out.push(selectorNotFound(r, labels, ['spec', 'selector', 'matchLabels']));
  }
  for (const key of [...byPod.keys()].sort()) {
    const { namespace, name, telemetries } = byPod.get(key)!;
    if (telemetries.length < 2) continue;
    const names = sortedNames(telemetries);
    for (const r of telemetries) {
      out.push(
        newMessage(
          MESSAGE_TYPES.ConflictingTelemetryWorkloadSelectors,
          subjectOf(r),
          [names, namespace, name],
          ['metadata', 'name'],
        ),
      );
    }
  }
  return out;
}

/**
 * IST0160 on each of several Telemetries of one namespace without a `selector` (a
 * targetRefs one counts, as in istio analyzers/telemetry/default_selector.go).
 */
export function analyzeTelemetryDefaultSelectors(ctx: AnalysisContext): AnalysisMessage[] {
  const byNamespace = new Map<string, Resource[]>();
  for (const r of ctx.byKind('Telemetry')) {
    if (obj(r.spec)['selector'] !== undefined && obj(r.spec)['selector'] !== null) continue;
    const list = byNamespace.get(r.metadata.namespace) ?? [];
    list.push(r);
    byNamespace.set(r.metadata.namespace, list);
  }
  const out: AnalysisMessage[] = [];
  for (const [ns, list] of byNamespace) {
    if (list.length < 2) continue;
    const names = sortedNames(list);
    for (const r of list)
      out.push(
        newMessage(MESSAGE_TYPES.MultipleTelemetriesWithoutWorkloadSelectors, subjectOf(r), [names, ns]),
      );
  }
  return out;
}
