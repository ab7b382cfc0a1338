/**
 * The EnvoyFilter patches of istio.io's "Enabling Rate Limits using Envoy" task (global rate
 * limits), written once for the tests that vary them.
 */

/** One EnvoyFilter selecting `app`'s workloads, with `patches` (each a `  - applyTo: ...` item). */
export function envoyFilterYaml(o: {
  readonly name?: string;
  readonly namespace: string;
  readonly app: string;
  readonly patches: readonly string[];
}): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: ${o.name ?? 'filter-ratelimit'}, namespace: ${o.namespace} }
spec:
  workloadSelector: { labels: { app: ${o.app} } }
  configPatches:
${o.patches.join('\n')}
`;
}

/** The `envoy.filters.http.ratelimit` filter inserted before the router on the inbound side. */
export function rateLimitFilterPatch(o: {
  readonly cluster: string;
  readonly domain?: string;
  readonly failureModeDeny?: boolean;
  readonly timeout?: string;
  /** More RateLimit fields, one per line, unindented. */
  readonly extra?: readonly string[];
}): string {
  const fields = [
    `domain: ${o.domain ?? 'ratelimit'}`,
    ...(o.failureModeDeny === undefined ? [] : [`failure_mode_deny: ${o.failureModeDeny}`]),
    ...(o.timeout === undefined ? [] : [`timeout: ${o.timeout}`]),
    ...(o.extra ?? []),
  ];
  return `  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: envoy.filters.http.router } } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
${fields.map((f) => `          ${f}`).join('\n')}
          rate_limit_service:
            grpc_service: { envoy_grpc: { cluster_name: ${o.cluster} } }
            transport_api_version: V3`;
}

/** The inbound virtual host's `rate_limits`: one entry of `actions` (YAML flow form). */
export function virtualHostRateLimitsPatch(actions: string): string {
  return `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { rate_limits: [{ actions: ${actions} }] }`;
}

/** The task's descriptor: the request path as `PATH`. */
export const PATH_DESCRIPTOR = '[{ request_headers: { header_name: ":path", descriptor_key: PATH } }]';

/** A STATIC cluster `name` an EnvoyFilter CLUSTER ADD patch defines, at `address:port`. */
export function clusterPatch(name: string, address: string, port: number): string {
  return `  - applyTo: CLUSTER
    patch:
      operation: ADD
      value:
        name: ${name}
        type: STATIC
        load_assignment:
          cluster_name: ${name}
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: ${address}, port_value: ${port} } } } }] }]`;
}
