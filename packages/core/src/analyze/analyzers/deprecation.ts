import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, isObj, num, obj, str } from '../read.js';
import { subjectOf } from './subject.js';

/** Istio's removed RBAC kinds (istio deprecation.go `deprecatedCRDs`). */
const REMOVED_RBAC_KINDS = new Set(['ClusterRbacConfig', 'RbacConfig', 'ServiceRole', 'ServiceRoleBinding']);

/**
 * istio deprecation.FieldAnalyzer (registered as `deprecation.DeprecationAnalyzer`):
 * IST0002 for a VirtualService route's `fault.delay.percent`, a Sidecar's
 * `outboundTrafficPolicy.egressProxy`, and CustomResourceDefinitions of the
 * removed rbac.istio.io kinds. Messages carry the resource's line, as istio's.
 */
export function analyzeDeprecations(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('VirtualService')) {
    for (const route of arr(obj(r.spec)['http'])) {
      if (num(obj(obj(obj(route)['fault'])['delay'])['percent']) > 0)
        out.push(
          newMessage(MESSAGE_TYPES.Deprecated, subjectOf(r), [
            'HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
          ]),
        );
    }
  }
  for (const r of ctx.byKind('Sidecar')) {
    if (isObj(obj(obj(r.spec)['outboundTrafficPolicy'])['egressProxy']))
      out.push(
        newMessage(MESSAGE_TYPES.Deprecated, subjectOf(r), ['OutboundTrafficPolicy.EgressProxy ignored']),
      );
  }
  for (const p of ctx.snapshot.platform) {
    if (p.kind !== 'CustomResourceDefinition' || !p.apiVersion.startsWith('apiextensions.k8s.io/')) continue;
    const spec = obj(p.body['spec']);
    const group = str(spec['group']);
    const kind = str(obj(spec['names'])['kind']);
    if (group !== 'rbac.istio.io' || !REMOVED_RBAC_KINDS.has(kind)) continue;
    // A CustomResourceDefinition is cluster-scoped: no namespace in its origin.
    const subject = { kind: p.kind, namespace: '', name: p.metadata.name, origin: p.origin };
    out.push(
      newMessage(MESSAGE_TYPES.Deprecated, subject, [`Custom resource type ${group} ${kind} is removed`]),
    );
  }
  return out;
}
