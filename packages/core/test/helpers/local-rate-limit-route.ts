/** Options of `routeRateLimitYaml`; every one defaults to the istio.io task's value. */
export interface RouteRateLimitOptions {
  readonly name?: string;
  readonly namespace?: string;
  /** `workloadSelector` labels. */
  readonly selector?: Readonly<Record<string, string>>;
  /** `match.context` of both patches. */
  readonly context?: string;
  /** `match.routeConfiguration` of the HTTP_ROUTE patch, in YAML flow form. */
  readonly routeConfiguration?: string;
  /** Extra `match` fields of the HTTP_FILTER patch, in YAML flow form (e.g. `proxy: { ... }`). */
  readonly filterMatch?: string;
  /** The route config's `token_bucket`, in YAML flow form. */
  readonly bucket?: string;
}

/**
 * The route-level local rate limit EnvoyFilter of istio.io's task "Enabling Rate Limits
 * using Envoy" (policy-enforcement/rate-limit): an HTTP_FILTER that installs the filter
 * disabled (no `filter_enabled`), and an HTTP_ROUTE MERGE of `typed_per_filter_config`
 * for the inbound virtual host `inbound|http|9080` that enables a 4-per-minute bucket.
 */
export function routeRateLimitYaml(o: RouteRateLimitOptions = {}): string {
  const selector = Object.entries(o.selector ?? { app: 'productpage' })
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const context = o.context ?? 'SIDECAR_INBOUND';
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: ${o.name ?? 'filter-local-ratelimit-svc'}, namespace: ${o.namespace ?? 'istio-system'} }
spec:
  workloadSelector: { labels: { ${selector} } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: ${context}
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager } } }
${o.filterMatch === undefined ? '' : `      ${o.filterMatch}\n`}    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value: { stat_prefix: http_local_rate_limiter }
  - applyTo: HTTP_ROUTE
    match:
      context: ${context}
      routeConfiguration: ${o.routeConfiguration ?? '{ vhost: { name: "inbound|http|9080", route: { action: ANY } } }'}
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket: ${o.bucket ?? '{ max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s }'}
              filter_enabled: { runtime_key: local_rate_limit_enabled, default_value: { numerator: 100, denominator: HUNDRED } }
              filter_enforced: { runtime_key: local_rate_limit_enforced, default_value: { numerator: 100, denominator: HUNDRED } }
              response_headers_to_add:
              - append: false
                header: { key: x-local-rate-limit, value: "true" }
`;
}
