/** Options of `localRateLimitYaml`; every one defaults to the istio.io task's value. */
export interface LocalRateLimitOptions {
  readonly name?: string;
  readonly namespace?: string;
  /** `workloadSelector` labels; null for none (the whole namespace, or the mesh in the root namespace). */
  readonly selector?: Readonly<Record<string, string>> | null;
  /** `listener.portNumber`, when the filter applies to one port only. */
  readonly port?: number;
  /** The `token_bucket` value, in YAML flow form. */
  readonly bucket?: string;
  /** `filter_enabled` / `filter_enforced` percentages. */
  readonly enabled?: number;
  readonly enforced?: number;
  /** `enable_x_ratelimit_headers: DRAFT_VERSION_03`. */
  readonly xRateLimitHeaders?: boolean;
  /** `request_headers_to_add_when_not_enforced` with `x-local-rate-limit-shadow: true`. */
  readonly shadowHeader?: boolean;
  /**
   * `response_headers_to_add` with `x-local-rate-limit: true`, written with the deprecated
   * `append: false` (as the task does) or `append_action`; null for none.
   */
  readonly responseHeader?: 'append' | 'append_action' | null;
  /** `filterChain.filter.subFilter.name`: the HTTP filter the patch inserts next to. */
  readonly subFilter?: string;
  /** `patch.operation`; default INSERT_BEFORE, as the task. */
  readonly operation?: 'INSERT_BEFORE' | 'INSERT_AFTER' | 'INSERT_FIRST' | 'ADD';
}

/**
 * The local rate limit EnvoyFilter of istio.io's task "Enabling Rate Limits using
 * Envoy" (policy-enforcement/rate-limit), parameterised for tests.
 */
export function localRateLimitYaml(o: LocalRateLimitOptions = {}): string {
  const selector = o.selector === undefined ? { app: 'httpbin' } : o.selector;
  const labels =
    selector === null
      ? ''
      : `  workloadSelector: { labels: { ${Object.entries(selector)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')} } }\n`;
  const lines = [
    'apiVersion: networking.istio.io/v1alpha3',
    'kind: EnvoyFilter',
    `metadata: { name: ${o.name ?? 'filter-local-ratelimit-svc'}, namespace: ${o.namespace ?? 'foo'} }`,
    `spec:\n${labels}  configPatches:`,
    '  - applyTo: HTTP_FILTER',
    '    match:',
    '      context: SIDECAR_INBOUND',
    '      listener:',
    ...(o.port === undefined ? [] : [`        portNumber: ${o.port}`]),
    o.subFilter === undefined
      ? '        filterChain: { filter: { name: envoy.filters.network.http_connection_manager } }'
      : `        filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: ${o.subFilter} } } }`,
    '    patch:',
    `      operation: ${o.operation ?? 'INSERT_BEFORE'}`,
    '      value:',
    '        name: envoy.filters.http.local_ratelimit',
    '        typed_config:',
    '          "@type": type.googleapis.com/udpa.type.v1.TypedStruct',
    '          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
    '          value:',
    '            stat_prefix: http_local_rate_limiter',
    `            token_bucket: ${o.bucket ?? '{ max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s }'}`,
    `            filter_enabled: { runtime_key: local_rate_limit_enabled, default_value: { numerator: ${o.enabled ?? 100}, denominator: HUNDRED } }`,
    `            filter_enforced: { runtime_key: local_rate_limit_enforced, default_value: { numerator: ${o.enforced ?? 100}, denominator: HUNDRED } }`,
    ...(o.xRateLimitHeaders === true ? ['            enable_x_ratelimit_headers: DRAFT_VERSION_03'] : []),
    ...(o.shadowHeader === true
      ? [
          '            request_headers_to_add_when_not_enforced:',
          '            - header: { key: x-local-rate-limit-shadow, value: "true" }',
        ]
      : []),
  ];
  const header = o.responseHeader === undefined ? 'append' : o.responseHeader;
  if (header !== null)
    lines.push(
      '            response_headers_to_add:',
      header === 'append'
        ? '            - append: false'
        : '            - append_action: OVERWRITE_IF_EXISTS_OR_ADD',
      '              header: { key: x-local-rate-limit, value: "true" }',
    );
  return `${lines.join('\n')}\n`;
}
