import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import { engineFor, planOf, request, verdict, ingressGateway } from '../engine/support.js';

// Local rate limit descriptors (envoy local_ratelimit_impl.cc requestAllowed): the route's and
// virtual host's `rate_limits` build the request's descriptors; each configured descriptor
// equal to one takes a token from its own bucket, the slowest-filling first; the default
// bucket is drawn when none matched, or with always_consume_default_token_bucket (default true).

interface Options {
  readonly defaultBucket?: string | null;
  readonly alwaysConsume?: boolean;
  readonly descriptors: string;
  readonly rateLimits: string;
  readonly vh?: 'OVERRIDE' | 'INCLUDE' | 'IGNORE';
}

function yaml(o: Options): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: local-descriptors, namespace: foo }
spec:
  workloadSelector: { labels: { app: httpbin } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: http_local_rate_limiter
${o.defaultBucket === null ? '' : `          token_bucket: ${o.defaultBucket ?? '{ max_tokens: 3, tokens_per_fill: 3, fill_interval: 60s }'}\n`}          filter_enabled: { default_value: { numerator: 100, denominator: HUNDRED } }
          filter_enforced: { default_value: { numerator: 100, denominator: HUNDRED } }
          enable_x_ratelimit_headers: DRAFT_VERSION_03
${o.alwaysConsume === undefined ? '' : `          always_consume_default_token_bucket: ${o.alwaysConsume}\n`}${o.vh === undefined ? '' : `          vh_rate_limits: ${o.vh}\n`}          descriptors:
${o.descriptors}
${o.rateLimits}
`;
}

const PATH_LIMITS = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { rate_limits: [{ actions: [{ request_headers: { header_name: ":path", descriptor_key: path } }] }] }`;

const ADMIN_ONCE = `          - entries: [{ key: path, value: /admin }]
            token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }`;

async function paths(engine: ReturnType<typeof engineFor>, list: string[]): Promise<(number | 'allow')[]> {
  const out: (number | 'allow')[] = [];
  for (const url of list) out.push(verdict(await engine.decide(request({ url }))));
  return out;
}

describe('local rate limit descriptors', () => {
  it('limit the requests whose descriptor matches by their own bucket, and draw the default bucket too (always_consume_default_token_bucket)', async () => {
    const engine = engineFor(planOf(yaml({ descriptors: ADMIN_ONCE, rateLimits: PATH_LIMITS })), {
      clock: createManualClock(),
    });
    // /admin: its bucket of 1 and the default bucket of 3 (the refused second one takes
    // nothing from the default); /get: the two tokens /admin left in the default bucket.
    expect(await paths(engine, ['/admin', '/admin', '/get', '/get', '/get'])).toEqual([
      'allow',
      429,
      'allow',
      'allow',
      429,
    ]);
  });

  it('leave the default bucket alone for a matched request when always_consume_default_token_bucket is false', async () => {
    const engine = engineFor(
      planOf(yaml({ descriptors: ADMIN_ONCE, rateLimits: PATH_LIMITS, alwaysConsume: false })),
      { clock: createManualClock() },
    );
    expect(await paths(engine, ['/admin', '/admin', '/get', '/get', '/get', '/get'])).toEqual([
      'allow',
      429,
      'allow',
      'allow',
      'allow',
      429,
    ]);
  });

  it('report the matched descriptor’s bucket in x-ratelimit-* headers', async () => {
    const engine = engineFor(planOf(yaml({ descriptors: ADMIN_ONCE, rateLimits: PATH_LIMITS })), {
      clock: createManualClock(),
    });
    const headers = (d: InboundDecision) => (d.allow ? d.responseHeaders : d.headers);
    expect(headers(await engine.decide(request({ url: '/admin' })))).toMatchObject({
      'x-ratelimit-limit': '1',
      'x-ratelimit-remaining': '0',
    });
    expect(headers(await engine.decide(request({ url: '/get' })))).toMatchObject({
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '1',
    });
  });

  it('limit by descriptors alone when the filter has no default token_bucket', async () => {
    const engine = engineFor(
      planOf(yaml({ defaultBucket: null, descriptors: ADMIN_ONCE, rateLimits: PATH_LIMITS })),
      { clock: createManualClock() },
    );
    expect(await paths(engine, ['/admin', '/admin', '/get', '/get', '/get', '/get'])).toEqual([
      'allow',
      429,
      'allow',
      'allow',
      'allow',
      'allow',
    ]);
  });

  it('draw the slowest-filling matched bucket first, so a faster one keeps its token when that one refuses', async () => {
    // Two descriptors from two rate_limits entries; the user's bucket refills slower than the path's.
    const descriptors = `          - entries: [{ key: path, value: /admin }]
            token_bucket: { max_tokens: 5, tokens_per_fill: 5, fill_interval: 1s }
          - entries: [{ key: user, value: mallory }]
            token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }`;
    const rateLimits = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value:
        rate_limits:
        - actions: [{ request_headers: { header_name: ":path", descriptor_key: path } }]
        - actions: [{ request_headers: { header_name: x-user, descriptor_key: user } }]`;
    const engine = engineFor(
      planOf(yaml({ defaultBucket: null, descriptors, rateLimits, alwaysConsume: false })),
      { clock: createManualClock() },
    );
    const mallory = { 'x-user': 'mallory' };
    const d1 = await engine.decide(request({ url: '/admin', headers: mallory }));
    const d2 = await engine.decide(request({ url: '/admin', headers: mallory }));
    expect([verdict(d1), verdict(d2)]).toEqual(['allow', 429]);
    // The refused request took nothing from /admin's bucket: four of its five tokens are left.
    const other = await engine.decide(request({ url: '/admin', headers: { 'x-user': 'alice' } }));
    expect(other.allow ? other.responseHeaders['x-ratelimit-remaining'] : null).toBe('3');
  });

  it("read the route's rate_limits, and the virtual host's as vh_rate_limits says", async () => {
    const routeLimits = `${PATH_LIMITS}
  - applyTo: HTTP_ROUTE
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { route: { rate_limits: [{ actions: [{ generic_key: { descriptor_value: route } }] }] } }`;
    const descriptors = `${ADMIN_ONCE}
          - entries: [{ key: generic_key, value: route }]
            token_bucket: { max_tokens: 2, tokens_per_fill: 2, fill_interval: 60s }`;
    const run = async (vh?: 'OVERRIDE' | 'INCLUDE' | 'IGNORE') =>
      paths(
        engineFor(
          planOf(
            yaml({
              defaultBucket: null,
              descriptors,
              rateLimits: routeLimits,
              ...(vh === undefined ? {} : { vh }),
            }),
          ),
          { clock: createManualClock() },
        ),
        ['/admin', '/admin', '/admin'],
      );
    // OVERRIDE (the default): the route has rate_limits, so the virtual host's /admin one is unused.
    expect(await run()).toEqual(['allow', 'allow', 429]);
    expect(await run('IGNORE')).toEqual(['allow', 'allow', 429]);
    // INCLUDE: both descriptors; /admin's bucket of 1 refuses the second request.
    expect(await run('INCLUDE')).toEqual(['allow', 429, 429]);
  });
});

describe('local rate limit descriptors at a gateway', () => {
  // local_ratelimit.cc populateDescriptors builds none when the route the connection manager
  // picked has no route entry (no route matches, a redirect, a direct response): only the
  // default bucket, if any, applies to such a request.
  const atGateway = (text: string) =>
    text.replaceAll('SIDECAR_INBOUND', 'GATEWAY').replace('app: httpbin', 'istio: ingressgateway');

  it('match the descriptors of a routed request, and none of one without a route entry', async () => {
    const plan = planOf(
      atGateway(yaml({ defaultBucket: null, descriptors: ADMIN_ONCE, rateLimits: PATH_LIMITS })),
      {
        workload: ingressGateway,
      },
    );
    expect(plan.inbound.gateway).toBe(true);
    const engine = engineFor(plan, { clock: createManualClock() });
    const routed = () => ({ cluster: 'outbound|80||admin.foo.svc.cluster.local' });
    const decide = async (gatewayRoute: () => { cluster: string } | null) =>
      verdict(await engine.decide(request({ url: '/admin', gatewayRoute })));
    expect([await decide(routed), await decide(routed)]).toEqual(['allow', 429]);
    expect([await decide(() => null), await decide(() => null)]).toEqual(['allow', 'allow']);
  });
});
