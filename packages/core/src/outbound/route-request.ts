import type { CompiledRoute, RouteDestination } from '../compile/plan-types.js';
import type { Random } from '../runtime/random.js';
import type { HeaderRecord } from './request-input.js';

/**
 * A weighted destination (`route[].weight`, shares already normalised to percent by
 * the plan): a single destination takes everything without a draw; otherwise one
 * draw from `random` walks the cumulative shares, or `drawn` (in [0, 1)) when the request
 * drew before (a gateway's filters asked for its route). Undefined when the rule has none.
 */
export function chooseDestination(
  destinations: readonly RouteDestination[],
  random: Random,
  drawn?: number,
): RouteDestination | undefined {
  if (destinations.length <= 1) return destinations[0];
  return pickWeighted(destinations, drawn ?? random.next());
}

/** The destination a draw `u` in [0, 1) lands on, walking the cumulative shares. */
export function pickWeighted(
  destinations: readonly RouteDestination[],
  u: number,
): RouteDestination | undefined {
  let r = u * 100;
  for (const d of destinations) {
    if (r < d.weight) return d;
    r -= d.weight;
  }
  return destinations[destinations.length - 1];
}

/** The effective route and per-try timeouts of a call, in ms (null = none). */
export interface CallTimeouts {
  readonly routeMs: number | null;
  readonly perTryMs: number | null;
}

/**
 * Route `timeout` (none by default) and `retries.perTryTimeout`. The application's own
 * Envoy control headers (`x-envoy-upstream-rq-timeout-ms`, `x-envoy-retry-on`, ...) are
 * ignored and removed, as the sidecar's connection manager strips them from an external
 * request. A per-try timeout not shorter than the route timeout is dropped, as Envoy does.
 * Sets the first try's `x-envoy-expected-rq-timeout-ms` unless `expectedHeader` is false
 * (the router's `suppress_envoy_headers`); a retry recomputes it (attempt.ts).
 */
export function callTimeouts(
  route: CompiledRoute,
  headers: HeaderRecord,
  expectedHeader = true,
): CallTimeouts {
  const routeMs = route.timeoutMs;
  let perTryMs = route.retries?.perTryTimeoutMs ?? null;
  if (perTryMs !== null && routeMs !== null && perTryMs >= routeMs) perTryMs = null;
  const expected = perTryMs ?? routeMs;
  if (expected !== null && expectedHeader) headers['x-envoy-expected-rq-timeout-ms'] = String(expected);
  return { routeMs, perTryMs };
}
