import type { HeaderOperations } from '../compile/plan-types.js';
import type { HeaderRecord } from './request-input.js';

/**
 * `HTTPRoute.headers.{request,response}` (and per destination): removes first,
 * then `set` overwrites, then `add` appends (istio route.go `TranslateHeadersOperations`).
 * Mutates `headers`.
 */
export function applyHeaderOps(headers: HeaderRecord, ops: HeaderOperations | null): void {
  if (ops === null) return;
  for (const name of ops.remove) delete headers[name];
  for (const [name, value] of ops.set) headers[name] = value;
  for (const [name, value] of ops.add) {
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(typeof prev === 'string' ? [prev] : prev), value];
  }
}

/**
 * A route's header operations and its destination's, as Envoy ends up evaluating them.
 * One destination: istiod appends the destination's operations to the route's lists
 * (route/route.go processDestination), and that one header parser removes every listed
 * header before it sets or adds any (envoy header_parser.cc evaluateHeaders). Weighted
 * destinations: each cluster's operations are its own parser, evaluated before the route's
 * (envoy config_impl.h WeightedClusterEntry::finalizeRequestHeaders/-ResponseHeaders), so
 * the route's `set` wins over a destination's.
 */
export function applyRouteHeaderOps(
  headers: HeaderRecord,
  rule: HeaderOperations | null,
  dest: HeaderOperations | null,
  weighted: boolean,
): void {
  if (rule === null || dest === null) {
    applyHeaderOps(headers, rule ?? dest);
  } else if (weighted) {
    applyHeaderOps(headers, dest);
    applyHeaderOps(headers, rule);
  } else {
    applyHeaderOps(headers, { remove: [...rule.remove, ...dest.remove], set: rule.set, add: rule.add });
    applyHeaderOps(headers, { remove: [], set: dest.set, add: dest.add });
  }
}
