import { describe, expect, it } from 'vitest';
import { configDump } from '../../src/admin/config-dump.js';
import { planOf } from '../inbound/engine/support.js';

const YAML = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: filter-ratelimit, namespace: foo }
spec:
  workloadSelector: { labels: { app: httpbin } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: envoy.filters.http.router } } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: ratelimit
          rate_limit_service:
            grpc_service: { envoy_grpc: { cluster_name: outbound|8081||ratelimit.default.svc.cluster.local } }
            transport_api_version: V3
  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value:
        rate_limits:
        - actions:
          - header_value_match:
              descriptor_value: api
              headers: [{ name: ":path", safe_regex_match: { regex: "^/api/.*" } }]
`;

describe('/config_dump: rate limits', () => {
  it('holds the global filters, where they call, and the rate_limits with a regex as its pattern', () => {
    const dump = JSON.parse(
      JSON.stringify(configDump(planOf(YAML), { hash: 'h', loadedAt: 0, files: [] })),
    ) as ReturnType<typeof configDump>;
    expect(dump.inbound.globalRateLimits).toEqual([
      expect.objectContaining({
        envoyFilter: { namespace: 'foo', name: 'filter-ratelimit' },
        service: {
          kind: 'mesh',
          host: 'ratelimit.default.svc.cluster.local',
          port: 8081,
          authority: 'outbound|8081||ratelimit.default.svc.cluster.local',
        },
      }),
    ]);
    expect(dump.inbound.rateLimitPolicies).toEqual([
      {
        envoyFilter: { namespace: 'foo', name: 'filter-ratelimit' },
        portNumber: null,
        level: 'vhost',
        includeVhRateLimits: null,
        entries: [
          {
            stage: 0,
            disableKey: '',
            actions: [
              {
                kind: 'header_value_match',
                descriptorKey: 'header_match',
                descriptorValue: 'api',
                expectMatch: true,
                headers: [
                  {
                    name: ':path',
                    match: { kind: 'regex', regex: '^/api/.*' },
                    invert: false,
                    missingAsEmpty: false,
                  },
                ],
              },
            ],
          },
        ],
      },
    ]);
  });
});
