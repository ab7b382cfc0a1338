import type { FieldPath } from '../../config/diagnostic.js';
import type { Resource } from '../../config/resource.js';
import { subjectOf } from './subject.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, isObj, obj, str, strList, type Obj } from '../read.js';

const fullName = (r: Resource): string => `${r.metadata.namespace}/${r.metadata.name}`;

/** `http[].route[].destination` objects, with their rule. */
function httpDestinations(spec: Obj): { rule: Obj; ruleIndex: number; routeIndex: number; dest: Obj }[] {
  const out: { rule: Obj; ruleIndex: number; routeIndex: number; dest: Obj }[] = [];
  arr(spec['http']).forEach((raw, ruleIndex) => {
    const rule = obj(raw);
    arr(rule['route']).forEach((rd, routeIndex) => {
      out.push({ rule, ruleIndex, routeIndex, dest: obj(obj(rd)['destination']) });
    });
  });
  return out;
}

/**
 * istio initVirtualServiceDestinations: per VirtualService, its http destinations that name
 * a subset and whose host is written, verbatim, among its own `hosts`.
 */
function subsetDestinations(ctx: AnalysisContext): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of ctx.byKind('VirtualService')) {
    const spec = obj(r.spec);
    const hosts = strList(spec['hosts']);
    for (const { dest } of httpDestinations(spec)) {
      if (str(dest['subset']) === '') continue;
      for (const host of hosts) {
        if (str(dest['host']) !== host) continue;
        const list = out.get(fullName(r)) ?? [];
        list.push(host);
        out.set(fullName(r), list);
      }
    }
  }
  return out;
}

/**
 * istio keys the line with `fmt.Sprintf(DestinationHost, http.Name, i, j)`, i.e. the rule's
 * *name* where the section belongs; the key only exists when that name is a route section
 * with such a destination, otherwise the message keeps the resource's line.
 */
function linePath(spec: Obj, ruleName: string, i: number, j: number): FieldPath | undefined {
  const rule = arr(spec[ruleName])[i];
  const route = isObj(rule) ? arr(rule['route'])[j] : undefined;
  const dest = isObj(route) ? route['destination'] : undefined;
  if (!isObj(dest) || !('host' in dest)) return undefined;
  return ['spec', ruleName, i, 'route', j, 'destination', 'host'];
}

/**
 * IST0140: a gateway-bound VirtualService routes to a host without a subset while another
 * VirtualService (for that host) splits it by subset; istio virtualservice.DestinationHostAnalyzer
 * analyzeSubset (destinationhosts.go). One message per matching subset destination; hosts are
 * compared as written, not resolved.
 */
export function analyzeIngressSubsets(ctx: AnalysisContext): AnalysisMessage[] {
  const split = subsetDestinations(ctx);
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('VirtualService')) {
    const spec = obj(r.spec);
    if (strList(spec['gateways']).length === 0) continue;
    for (const { rule, ruleIndex, routeIndex, dest } of httpDestinations(spec)) {
      if (str(dest['subset']) !== '') continue;
      const path = linePath(spec, str(rule['name']), ruleIndex, routeIndex);
      for (const [vs, hosts] of split) {
        for (const host of hosts) {
          if (host !== str(dest['host'])) continue;
          out.push(
            newMessage(MESSAGE_TYPES.IngressRouteRulesNotAffected, subjectOf(r), [vs, fullName(r)], path),
          );
        }
      }
    }
  }
  return out;
}
