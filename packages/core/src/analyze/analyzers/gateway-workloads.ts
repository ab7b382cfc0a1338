import type { Resource } from '../../config/resource.js';
import type { AnalysisContext } from '../context.js';
import { selectorMatches, selectorString } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { obj, strMap } from '../read.js';
import { subjectOf } from './subject.js';

/** IST0101 `selector`, pointing at the selector's first label as istio's ErrorLine does. */
export function selectorNotFound(
  r: Resource,
  selector: Readonly<Record<string, string>>,
  at: readonly string[] = ['spec', 'selector'],
): AnalysisMessage {
  const s = selectorString(selector);
  const first = s.split(',')[0]?.split('=')[0] ?? '';
  return newMessage(MESSAGE_TYPES.ReferencedResourceNotFound, subjectOf(r), ['selector', s], [...at, first]);
}

/**
 * IST0101 when a Gateway's `selector` matches no pod: the workload half of istio
 * gateway.IngressGatewayPortAnalyzer. Its IST0162 half (server port not on the
 * workload's Service) is left out: from files it can only compare against
 * istioctl's stand-in ingress Service, whose ports (80->80) predate the gateway
 * chart's (80->8080), so it would flag Bookinfo's own gateway.
 */
export function analyzeGatewayWorkloads(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('Gateway')) {
    const selector = strMap(obj(r.spec)['selector']);
    if (!ctx.pods.some((pod) => selectorMatches(selector, pod.labels)))
      out.push(selectorNotFound(r, selector));
  }
  return out;
}
