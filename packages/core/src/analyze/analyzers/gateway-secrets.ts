import type { AnalysisContext } from '../context.js';
import { selectorMatches } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str, strMap } from '../read.js';
import { selectorNotFound } from './gateway-workloads.js';
import { subjectOf } from './subject.js';

/**
 * IST0101 `credentialName` when a Gateway server's `tls.credentialName` names no
 * Secret in the namespace of the gateway workload (not of the Gateway resource),
 * and IST0101 `selector` when no workload is selected: istio gateway.SecretAnalyzer.
 */
export function analyzeGatewaySecrets(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('Gateway')) {
    const spec = obj(r.spec);
    const selector = strMap(spec['selector']);
    // Istio takes the first selected pod's namespace, assuming all share one.
    const workloadNs = ctx.pods.find((p) => selectorMatches(selector, p.labels))?.namespace;
    if (workloadNs === undefined) {
      out.push(selectorNotFound(r, selector));
      continue;
    }
    arr(spec['servers']).forEach((server, i) => {
      const cn = str(obj(obj(server)['tls'])['credentialName']);
      if (cn === '') return;
      const key = cn.includes('/') ? cn : `${workloadNs}/${cn}`;
      if (ctx.secrets.has(key)) return;
      out.push(
        newMessage(
          MESSAGE_TYPES.ReferencedResourceNotFound,
          subjectOf(r),
          ['credentialName', cn],
          ['spec', 'servers', i, 'tls', 'credentialName'],
        ),
      );
    });
  }
  return out;
}
