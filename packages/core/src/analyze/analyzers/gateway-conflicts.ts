import type { AnalysisContext } from '../context.js';
import { selectorMatches, selectorString } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, num, obj, str, strList, strMap } from '../read.js';
import { selectorNotFound } from './gateway-workloads.js';
import { subjectOf } from './subject.js';

/** host -> bind of one gateway's servers on one selector and port. */
type HostsBind = ReadonlyMap<string, string>;

/** `selector~port` -> gateway `ns/name` -> its hosts there (istio initGatewaysMap). */
function gatewaysByKey(ctx: AnalysisContext): Map<string, Map<string, HostsBind>> {
  const out = new Map<string, Map<string, HostsBind>>();
  for (const r of ctx.byKind('Gateway')) {
    const spec = obj(r.spec);
    const selector = selectorString(strMap(spec['selector']));
    for (const server of arr(spec['servers'])) {
      const s = obj(server);
      const key = `${selector}~${num(obj(s['port'])['number'])}`;
      let byName = out.get(key);
      if (byName === undefined) out.set(key, (byName = new Map<string, HostsBind>()));
      // As in Istio, a later server on the same port replaces the earlier one's hosts.
      byName.set(
        `${r.metadata.namespace}/${r.metadata.name}`,
        new Map(strList(s['hosts']).map((h) => [h, str(s['bind'])])),
      );
    }
  }
  return out;
}

function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(',')) {
    const kv = pair.split('=');
    if (kv.length === 2 && kv[0] !== undefined && kv[1] !== undefined) out[kv[0]] = kv[1];
  }
  return out;
}

/**
 * IST0145: two Gateways selecting the same workload (the same selector, or
 * overlapping selectors that match a common pod) declare the same host with the
 * same bind on the same port: istio gateway.ConflictingGatewayAnalyzer.
 * Istio's `CheckDuplicates` also records the checked hosts into the other
 * gateway's set as a side effect; meshlet leaves the sets unchanged, which can
 * only remove a conflict Istio reports through that side effect.
 */
export function analyzeConflictingGateways(ctx: AnalysisContext): AnalysisMessage[] {
  const map = gatewaysByKey(ctx);
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('Gateway')) {
    const spec = obj(r.spec);
    const selectorSet = strMap(spec['selector']);
    const selector = selectorString(selectorSet);
    const self = `${r.metadata.namespace}/${r.metadata.name}`;
    const hits = new Map<string, Map<string, HostsBind>>();
    for (const [key, byName] of map) {
      const other = key.slice(0, key.lastIndexOf('~'));
      let matched = other === selector;
      if (!matched && (other.includes(selector) || selector.includes(other))) {
        const otherSet = parseSelector(other);
        matched = ctx.pods.some(
          (p) => selectorMatches(selectorSet, p.labels) && selectorMatches(otherSet, p.labels),
        );
      }
      if (matched) hits.set(key, byName);
    }
    if (selector !== '' && hits.size === 0) {
      out.push(selectorNotFound(r, selectorSet));
      continue;
    }
    for (const server of arr(spec['servers'])) {
      const s = obj(server);
      const port = String(num(obj(s['port'])['number']));
      const hosts = strList(s['hosts']);
      const bind = str(s['bind']);
      const conflicting: string[] = [];
      for (const [key, byName] of hits) {
        if (key.slice(key.lastIndexOf('~') + 1) !== port) continue;
        for (const [name, known] of byName) {
          if (name !== self && hosts.some((h) => known.has(h) && known.get(h) === bind))
            conflicting.push(name);
        }
      }
      if (conflicting.length === 0) continue;
      out.push(
        newMessage(MESSAGE_TYPES.ConflictingGateways, subjectOf(r), [
          conflicting.sort().join(','),
          selector,
          port,
          hosts.join(','),
        ]),
      );
    }
  }
  return out;
}
