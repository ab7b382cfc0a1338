import type { CompiledRoute, RouteDestination } from '../compile/plan-types.js';
import type { Random } from '../runtime/random.js';
import type { HeaderRecord } from './request-input.js';
import { headerValue } from './request-input.js';

/**
 * A weighted destination (`route[].weight`, shares already normalised to percent by
 * the plan): a single destination takes everything without a draw; otherwise one
 * draw from `random` walks the cumulative shares. Undefined when the rule has none.
 */
export function chooseDestination(
  destinations: readonly RouteDestination[],
  random: Random,
): RouteDestination | undefined {
  if (destinations.length <= 1) return destinations[0];
  let r = random.next() * 100;
  for (const d of destinations) {
    if (r < d.weight) return d;
    r -= d.weight;
  }
  return destinations[destinations.length - 1];
}

/** Envoy's `x-envoy-upstream-rq-timeout-ms` / `x-envoy-upstream-rq-per-try-timeout-ms` values: whole ms. */
function headerMs(headers: HeaderRecord, name: string): number | null | undefined {
  const raw = headerValue(headers, name);
  if (raw === undefined) return undefined;
  delete headers[name];
  return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : null;
}

/** The effective route and per-try timeouts of a call, in ms (null = none). */
export interface CallTimeouts {
  readonly routeMs: number | null;
  readonly perTryMs: number | null;
}

/**
 * Route `timeout` (none by default) and `retries.perTryTimeout`, overridden by the
 * caller's `x-envoy-upstream-rq-timeout-ms` / `x-envoy-upstream-rq-per-try-timeout-ms`
 * (0 = no timeout), which are removed before the request goes upstream (envoy
 * router.cc `FilterUtility::finalTimeout`). A per-try timeout not shorter than the
 * route timeout is dropped, as Envoy does. Sets `x-envoy-expected-rq-timeout-ms` unless
 * `expectedHeader` is false (the router's `suppress_envoy_headers`).
 */
export function callTimeouts(
  route: CompiledRoute,
  headers: HeaderRecord,
  expectedHeader = true,
): CallTimeouts {
  let routeMs = route.timeoutMs;
  let perTryMs = route.retries?.perTryTimeoutMs ?? null;
  const h = headerMs(headers, 'x-envoy-upstream-rq-timeout-ms');
  if (h !== undefined && h !== null) routeMs = h === 0 ? null : h;
  const p = headerMs(headers, 'x-envoy-upstream-rq-per-try-timeout-ms');
  if (p !== undefined && p !== null) perTryMs = p === 0 ? null : p;
  if (perTryMs !== null && routeMs !== null && perTryMs >= routeMs) perTryMs = null;
  const expected = perTryMs ?? routeMs;
  if (expected !== null && expectedHeader) headers['x-envoy-expected-rq-timeout-ms'] = String(expected);
  return { routeMs, perTryMs };
}
