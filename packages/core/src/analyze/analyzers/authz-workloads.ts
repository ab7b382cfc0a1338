import type { AnalysisContext } from '../context.js';
import { namespaceLabels, podMayEnforce } from '../in-mesh.js';
import { selectorMatches, selectorString, type Labels } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { isObj, obj, strMap } from '../read.js';
import { subjectOf } from './subject.js';

/**
 * IST0127 for an AuthorizationPolicy that applies to no mesh workload: the
 * workload half of istio auth.AuthorizationPoliciesAnalyzer. Istio counts only pods in the
 * mesh (sidecar or ambient); meshlet also counts a pod with no injection signal, which may
 * run meshlet in-process (in-mesh.ts podMayEnforce). In the root namespace only a `selector` is
 * checked, against every namespace; elsewhere a selector-less policy needs some
 * mesh pod in its namespace, and a selector one a matching pod there.
 */
export function analyzeAuthorizationWorkloads(ctx: AnalysisContext): AnalysisMessage[] {
  const namespaces = namespaceLabels(ctx);
  const meshPods = new Map<string, Labels[]>();
  for (const pod of ctx.pods) {
    const list = meshPods.get(pod.namespace) ?? [];
    if (podMayEnforce(pod, namespaces)) list.push(pod.labels);
    meshPods.set(pod.namespace, list);
  }
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('AuthorizationPolicy')) {
    const ns = r.metadata.namespace;
    const selectorField = obj(r.spec)['selector'];
    const hasSelector = isObj(selectorField);
    const selector = strMap(obj(selectorField)['matchLabels']);
    const report = (labels: string) =>
      out.push(newMessage(MESSAGE_TYPES.NoMatchingWorkloadsFound, subjectOf(r), [labels]));
    if (ns === ctx.meshConfig.rootNamespace) {
      if (hasSelector && ![...meshPods.values()].flat().some((l) => selectorMatches(selector, l)))
        report(selectorString(selector));
      continue;
    }
    const here = meshPods.get(ns) ?? [];
    if (!hasSelector) {
      if (here.length === 0) report('');
      continue;
    }
    if (!here.some((l) => selectorMatches(selector, l))) report(selectorString(selector));
  }
  return out;
}
