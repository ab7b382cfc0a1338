import { describe, expect, it } from 'vitest';
import { configDump } from '../../src/admin/config-dump.js';
import { planOf } from '../inbound/engine/support.js';
import {
  envoyFilterYaml,
  rateLimitFilterPatch,
  virtualHostRateLimitsPatch,
} from '../helpers/global-rate-limit.js';

const YAML = envoyFilterYaml({
  namespace: 'foo',
  app: 'httpbin',
  patches: [
    rateLimitFilterPatch({ cluster: 'outbound|8081||ratelimit.default.svc.cluster.local' }),
    virtualHostRateLimitsPatch(
      '[{ header_value_match: { descriptor_value: api, headers: [{ name: ":path", safe_regex_match: { regex: "^/api/.*" } }] } }]',
    ),
  ],
});

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
