import type { AnalysisContext, PodView } from '../context.js';
import { selectorMatches, type Labels } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str, strList, strMap } from '../read.js';
import { destinationHost, serviceHostMap } from '../service-lookup.js';
import { subjectOf } from './subject.js';

/**
 * Pod labels plus the locality labels Istio's registry adds from the pod's Node
 * (istio pilot/pkg/serviceregistry/util/label AugmentLabels).
 */
function augmentedLabels(pod: PodView, nodes: ReadonlyMap<string, Labels>): Labels {
  const out: Record<string, string> = { ...pod.labels };
  const node = nodes.get(pod.nodeName);
  if (node !== undefined) {
    const region = node['topology.kubernetes.io/region'] ?? '';
    const zone = node['topology.kubernetes.io/zone'] ?? '';
    const subzone = node['topology.istio.io/subzone'] ?? '';
    if (region !== '') out['topology.kubernetes.io/region'] = region;
    if (zone !== '') out['topology.kubernetes.io/zone'] = zone;
    if (subzone !== '') out['topology.istio.io/subzone'] = subzone;
  }
  if (pod.nodeName !== '') out['kubernetes.io/hostname'] = pod.nodeName;
  return out;
}

/**
 * IST0174 when a DestinationRule's `host` is no visible service, and IST0173
 * when a `subsets[].labels` (merged with the ServiceEntry's workloadSelector)
 * selects no pod: istio destinationrule.PodNotSelectedAnalyzer. Like Istio, pods
 * of any namespace count.
 */
export function analyzeSubsetPods(ctx: AnalysisContext): AnalysisMessage[] {
  const hosts = serviceHostMap(ctx);
  const pods = ctx.pods.map((p) => augmentedLabels(p, ctx.nodeLabels));
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('DestinationRule')) {
    const spec = obj(r.spec);
    const host = str(spec['host']);
    const se = destinationHost(r.metadata.namespace, strList(spec['exportTo']), host, hosts);
    if (se === null) {
      out.push(newMessage(MESSAGE_TYPES.UnknownDestinationRuleHost, subjectOf(r), [host]));
      continue;
    }
    arr(spec['subsets']).forEach((raw) => {
      const subset = obj(raw);
      const selector = { ...se.workloadSelector, ...strMap(subset['labels']) };
      if (pods.some((labels) => selectorMatches(selector, labels))) return;
      out.push(
        newMessage(MESSAGE_TYPES.DestinationRuleSubsetNotSelectPods, subjectOf(r), [str(subset['name'])]),
      );
    });
  }
  return out;
}
