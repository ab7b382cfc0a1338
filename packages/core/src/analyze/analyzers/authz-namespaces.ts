import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, strList } from '../read.js';
import { subjectOf } from './subject.js';

/** istio authz `namespaceMatch`: `*`, `*suffix`, `prefix*`, else case-insensitive equality. */
export function namespaceMatches(ns: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return ns.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return ns.startsWith(pattern.slice(0, -1));
  return ns.toLowerCase() === pattern.toLowerCase();
}

/**
 * IST0101 `namespace` for each `rules[].from[].source.namespaces` or
 * `notNamespaces` entry that matches no known namespace: the namespace half of
 * istio auth.AuthorizationPoliciesAnalyzer.
 */
export function analyzeAuthorizationNamespaces(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const known = [...ctx.namespaces];
  for (const r of ctx.byKind('AuthorizationPolicy')) {
    arr(obj(r.spec)['rules']).forEach((rule, i) => {
      arr(obj(rule)['from']).forEach((from, j) => {
        const source = obj(obj(from)['source']);
        for (const field of ['namespaces', 'notNamespaces'] as const) {
          strList(source[field]).forEach((pattern, k) => {
            if (known.some((ns) => namespaceMatches(ns, pattern))) return;
            out.push(
              newMessage(
                MESSAGE_TYPES.ReferencedResourceNotFound,
                subjectOf(r),
                ['namespace', pattern],
                ['spec', 'rules', i, 'from', j, 'source', field, k],
              ),
            );
          });
        }
      });
    });
  }
  return out;
}
