import type { Resource } from '../../config/resource.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, num, obj, str, strList } from '../read.js';
import { subjectOf } from './subject.js';

interface Entry {
  readonly protocol: string;
  readonly se: Resource;
}

/** istio `exportToScopes`: `*` when exported everywhere (no exportTo, or `*`), else the namespaces. */
function scopes(exportTo: readonly string[], namespace: string): Set<string> {
  if (exportTo.length === 0 || exportTo.includes('*')) return new Set(['*']);
  return new Set(exportTo.map((e) => (e === '.' ? namespace : e)));
}

const keyOf = (scope: string, host: string, port: number) => JSON.stringify([scope, host, port]);
const fullName = (r: Resource) => `${r.metadata.namespace}/${r.metadata.name}`;

/**
 * istio serviceentry.ConflictingServiceEntryProtocolAnalyzer: IST0177 on each
 * ServiceEntry that defines a host and port which another ServiceEntry visible
 * in the same scope declares with a different protocol (compared upper-case).
 * Each entry is reported once; istio picks the conflict by Go map order, this
 * takes the first in load order.
 */
export function analyzeConflictingServiceEntryProtocols(ctx: AnalysisContext): AnalysisMessage[] {
  const index = new Map<string, { scope: string; host: string; port: number; entries: Entry[] }>();
  for (const se of ctx.byKind('ServiceEntry')) {
    const spec = obj(se.spec);
    for (const scope of scopes(strList(spec['exportTo']), se.metadata.namespace)) {
      for (const host of strList(spec['hosts'])) {
        for (const p of arr(spec['ports'])) {
          const port = num(obj(p)['number']);
          const k = keyOf(scope, host, port);
          const slot = index.get(k) ?? { scope, host, port, entries: [] };
          slot.entries.push({ protocol: str(obj(p)['protocol']), se });
          index.set(k, slot);
        }
      }
    }
  }
  const reported = new Set<string>();
  const out: AnalysisMessage[] = [];
  for (const { scope, host, port, entries: own } of index.values()) {
    const entries = scope === '*' ? own : [...own, ...(index.get(keyOf('*', host, port))?.entries ?? [])];
    const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort();
    if (protocols.length < 2) continue;
    const names = [...new Set(entries.map((e) => fullName(e.se)))].sort().join(', ');
    for (const { se } of entries) {
      if (reported.has(fullName(se))) continue;
      reported.add(fullName(se));
      out.push(
        newMessage(
          MESSAGE_TYPES.ConflictingServiceEntryProtocol,
          subjectOf(se),
          [names, host, port, protocols.join(', ')],
          ['metadata', 'name'],
        ),
      );
    }
  }
  return out;
}
