import { subjectOf } from './subject.js';
import type { AnalysisContext } from '../context.js';
import { resourceNameFromHost } from '../hosts.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str } from '../read.js';
import { mirrorDestinations, routeDestinations } from './vs-destinations.js';

/**
 * IST0101 for a destination or mirror subset that no DestinationRule defines:
 * istio virtualservice.DestinationRuleAnalyzer. Hosts are compared as
 * `namespace/name`, a short name taking the namespace of its resource.
 */
export function analyzeDestinationSubsets(ctx: AnalysisContext): AnalysisMessage[] {
  const known = new Set<string>();
  for (const dr of ctx.byKind('DestinationRule')) {
    const spec = obj(dr.spec);
    const name = resourceNameFromHost(dr.metadata.namespace, str(spec['host']));
    for (const s of arr(spec['subsets'])) known.add(`${name}+${str(obj(s)['name'])}`);
  }
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('VirtualService')) {
    const spec = obj(r.spec);
    const subject = subjectOf(r);
    for (const d of [...routeDestinations(spec), ...mirrorDestinations(spec)]) {
      if (d.subset === '') continue;
      if (known.has(`${resourceNameFromHost(r.metadata.namespace, d.host)}+${d.subset}`)) continue;
      const what = d.kind === 'route' ? 'host+subset in destinationrule' : 'mirror+subset in destinationrule';
      out.push(
        newMessage(
          MESSAGE_TYPES.ReferencedResourceNotFound,
          subject,
          [what, `${d.host}+${d.subset}`],
          d.path,
        ),
      );
    }
  }
  return out;
}
