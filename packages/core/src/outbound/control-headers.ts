import { REFERER, sanitizedReferer } from './referer.js';
import type { HeaderRecord } from './request-input.js';

/**
 * `x-envoy-internal`: the connection manager removes every request's before any filter, and
 * sets it (to `true`) only on a request it finds internal (envoy conn_manager_utility.cc
 * mutateRequestHeaders, "Clean proxy headers").
 */
export const ENVOY_INTERNAL = 'x-envoy-internal';

/**
 * The Envoy control headers `cleanInternalHeaders` (envoy conn_manager_utility.cc) removes
 * from an external request. Istio's sidecar HCMs have `use_remote_address: false`, so Envoy
 * never checks whether their peer is internal, and a gateway's finds no address internal
 * without an `internal_address_config` (empty by default since Envoy 1.33; istiod writes one
 * only from meshNetworks, pilot listener_builder.go): every request is external. The router
 * never sees these headers and does not forward them (istio/istio#14923).
 */
export const EXTERNAL_CONTROL_HEADERS: ReadonlySet<string> = new Set([
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
]);

/**
 * What `cleanInternalHeaders` removes from an edge request only (one not internal, on a
 * listener that uses the remote address: a gateway's).
 */
export const EDGE_ONLY_HEADERS: ReadonlySet<string> = new Set([
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
]);

/** Whether the connection manager takes `name` (lower-case) off an external request. */
export function isCleanedHeader(name: string, edge: boolean): boolean {
  return (
    name === ENVOY_INTERNAL || EXTERNAL_CONTROL_HEADERS.has(name) || (edge && EDGE_ONLY_HEADERS.has(name))
  );
}

/**
 * Removes the application's `x-envoy-internal` and {@link EXTERNAL_CONTROL_HEADERS}, and
 * sanitises its `referer` (outbound/referer.ts; names are lower-case in the pipeline). The
 * connection manager does this before routing, so the route's own header operations may set
 * them again.
 */
export function cleanRequestHeaders(headers: HeaderRecord): void {
  for (const name in headers) {
    // Most names do not start with `x-envoy-`: one character code decides for them.
    if (name.charCodeAt(0) === 120 && isCleanedHeader(name, false)) delete headers[name];
  }
  const referer = headers[REFERER];
  if (referer === undefined) return;
  const kept = sanitizedReferer(referer);
  if (kept === null) delete headers[REFERER];
  else if (kept !== referer) headers[REFERER] = kept;
}
