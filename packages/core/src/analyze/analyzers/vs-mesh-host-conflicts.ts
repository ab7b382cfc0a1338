import { subjectOf } from './subject.js';
import type { Resource } from '../../config/resource.js';
import type { AnalysisContext } from '../context.js';
import { exportsToAll, hostMatches, scopedFqdn, splitScopedFqdn } from '../hosts.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { obj, strList } from '../read.js';

/** `<scope>/<fqdn>` -> VirtualServices bound to the mesh gateway that claim it (istio initMeshGatewayHosts). */
function meshGatewayHosts(ctx: AnalysisContext): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const r of ctx.byKind('VirtualService')) {
    const spec = obj(r.spec);
    const gateways = strList(spec['gateways']);
    // No gateways means the mesh gateway.
    if (gateways.length > 0 && !gateways.includes('mesh')) continue;
    const ns = r.metadata.namespace;
    const exportTo = strList(spec['exportTo']);
    const scopes = exportsToAll(exportTo) ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? ns : e)))];
    for (const scope of scopes) {
      for (const h of strList(spec['hosts'])) {
        const key = scopedFqdn(scope, ns, h);
        const list = out.get(key);
        if (list === undefined) out.set(key, [r]);
        else list.push(r);
      }
    }
  }
  return out;
}

const fullName = (r: Resource): string => `${r.metadata.namespace}/${r.metadata.name}`;

/**
 * IST0109: two or more VirtualServices bound to the mesh gateway define the
 * same host in overlapping exportTo scopes (istio
 * virtualservice.ConflictingMeshGatewayHostsAnalyzer). Each VirtualService is
 * reported once.
 */
export function analyzeMeshGatewayHostConflicts(ctx: AnalysisContext): AnalysisMessage[] {
  const hosts = meshGatewayHosts(ctx);
  const reported = new Set<string>();
  const out: AnalysisMessage[] = [];
  for (const [key, own] of hosts) {
    const { scope, fqdn } = splitScopedFqdn(key);
    const list = [...own];
    if (scope !== '*') {
      // A namespace-scoped host also collides with every exported-to-all host it matches.
      for (const [otherKey, others] of hosts) {
        const other = splitScopedFqdn(otherKey);
        if (other.scope === '*' && hostMatches(fqdn, other.fqdn)) list.push(...others);
      }
    }
    if (list.length <= 1) continue;
    const names = list.map(fullName).sort().join(',');
    for (const r of list) {
      if (reported.has(fullName(r))) continue;
      reported.add(fullName(r));
      const subject = subjectOf(r);
      out.push(
        newMessage(
          MESSAGE_TYPES.ConflictingMeshGatewayVirtualServiceHosts,
          subject,
          [names, key],
          ['metadata', 'name'],
        ),
      );
    }
  }
  return out;
}
