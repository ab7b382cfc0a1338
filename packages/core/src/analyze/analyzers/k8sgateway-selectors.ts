import type { AnalysisContext } from '../context.js';
import { selectorMatches } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { isObj, obj, strMap } from '../read.js';
import { subjectOf } from './subject.js';

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
const POLICY_KINDS = ['AuthorizationPolicy', 'RequestAuthentication', 'Telemetry', 'WasmPlugin'];

/**
 * istio k8sgateway.SelectorAnalyzer: IST0166 on a policy (AuthorizationPolicy,
 * RequestAuthentication, Telemetry, WasmPlugin) whose `selector` picks a pod of
 * a Kubernetes Gateway (one labelled gateway.networking.k8s.io/gateway-name) in
 * its namespace: such gateways take policies through `targetRef` only. A policy
 * with a (singular) `targetRef` is skipped, as istio does.
 */
export function analyzeKubernetesGatewaySelectors(ctx: AnalysisContext): AnalysisMessage[] {
  const gatewayPods = ctx.pods.filter((p) => GATEWAY_NAME_LABEL in p.labels);
  const out: AnalysisMessage[] = [];
  for (const kind of POLICY_KINDS) {
    for (const r of ctx.byKind(kind)) {
      const spec = obj(r.spec);
      if (isObj(spec['targetRef']) || !isObj(spec['selector'])) continue;
      const selector = strMap(obj(spec['selector'])['matchLabels']);
      for (const pod of gatewayPods) {
        if (pod.namespace !== r.metadata.namespace || !selectorMatches(selector, pod.labels)) continue;
        out.push(
          newMessage(MESSAGE_TYPES.IneffectiveSelector, subjectOf(r), [pod.labels[GATEWAY_NAME_LABEL] ?? '']),
        );
      }
    }
  }
  return out;
}
