import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import type { InboundEngine } from '../../../src/inbound/engine-types.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import {
  startRateLimitServer,
  type RateLimitGrpcServer,
  type RateLimitHandler,
  type RateLimitResponseObject,
} from '../../helpers/rate-limit-grpc-server.js';
import { extAuthzHttpProvider, useExtAuthzServers } from './ext-authz-http-server.js';
import { engineFor, fakeJwt, planOf, REQUEST_AUTHENTICATION, request, sample, token } from './support.js';

// The global rate limit filter (envoy.filters.http.ratelimit) where its EnvoyFilter puts it in
// the inbound chain istiod builds (listener_builder.go), against a real gRPC rate limit
// service on loopback. envoy source/extensions/filters/http/ratelimit/ratelimit.cc.

let answer: RateLimitHandler = () => ({ overall_code: 'OK' });
let rls: RateLimitGrpcServer;
beforeAll(async () => {
  rls = await startRateLimitServer({ handler: (req, fromConfig) => answer(req, fromConfig) });
});
afterAll(async () => {
  await rls.close();
});

const engines: InboundEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  answer = () => ({ overall_code: 'OK' });
});

const { authzServer } = useExtAuthzServers();

const OVER: RateLimitResponseObject = { overall_code: 'OVER_LIMIT' };

interface FilterOptions {
  /** INSERT_FIRST puts the filter first in the chain; default INSERT_BEFORE the router. */
  readonly first?: boolean;
  /** INSERT_AFTER the first RBAC filter (the DENY one when there are DENY policies). */
  readonly afterRbac?: boolean;
  /** INSERT_AFTER the ext_authz filter of a CUSTOM provider. */
  readonly afterExtAuthz?: boolean;
  readonly config?: string;
  readonly cluster?: string;
  readonly stage?: number;
}

/** The filter, its cluster (a CLUSTER ADD to the test service) and `rate_limits` patches. */
function yaml(opts: FilterOptions, limits: string): string {
  const subFilter =
    opts.first === true
      ? ''
      : `, subFilter: { name: envoy.filters.http.${opts.afterRbac === true ? 'rbac' : 'router'} }`;
  const operation =
    opts.first === true ? 'INSERT_FIRST' : opts.afterRbac === true ? 'INSERT_AFTER' : 'INSERT_BEFORE';
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: ratelimit, namespace: foo }
spec:
  workloadSelector: { labels: { app: httpbin } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager${subFilter} } } }
    patch:
      operation: ${operation}
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: test
          stage: ${opts.stage ?? 0}
          timeout: 5s
          ${opts.config ?? ''}
          rate_limit_service:
            grpc_service: { envoy_grpc: { cluster_name: ${opts.cluster ?? 'rls'} } }
            transport_api_version: V3
  - applyTo: CLUSTER
    patch:
      operation: ADD
      value:
        name: rls
        type: STATIC
        load_assignment:
          cluster_name: rls
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${rls.port} } } } }] }]
${limits}
---
`;
}

const VHOST_PATH = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { rate_limits: [{ actions: [{ request_headers: { header_name: ":path", descriptor_key: PATH } }] }] }`;

const DENY_ADMIN = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]
---
`;

function engine(config: string, opts: Parameters<typeof engineFor>[1] = {}): InboundEngine {
  const e = engineFor(planOf(config), opts);
  engines.push(e);
  return e;
}

const summary = (d: InboundDecision) =>
  d.allow
    ? 'allow'
    : { status: d.status, flags: d.flags, stage: d.reason.stage, details: d.reason.responseCodeDetails };

describe('where the global rate limit filter runs', () => {
  it('after authorization when inserted before the router: a request RBAC denies never reaches the service', async () => {
    answer = () => OVER;
    const e = engine(DENY_ADMIN + yaml({}, VHOST_PATH));
    const before = rls.seen.length;
    expect(summary(await e.decide(request({ url: '/admin' })))).toMatchObject({ status: 403, stage: 'deny' });
    expect(rls.seen.length).toBe(before);
    expect(summary(await e.decide(request({ url: '/get' })))).toEqual({
      status: 429,
      flags: ['RL'],
      stage: 'ratelimit',
      details: 'request_rate_limited',
    });
    expect(rls.seen.length).toBe(before + 1);
  });

  it('after the ALLOW filter too: a request no ALLOW policy admits never reaches the service', async () => {
    answer = () => OVER;
    const allowGet = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{ to: [{ operation: { methods: ["GET"] } }] }]
---
`;
    const e = engine(allowGet + yaml({}, VHOST_PATH));
    const before = rls.seen.length;
    expect(summary(await e.decide(request({ method: 'POST', url: '/post' })))).toMatchObject({
      status: 403,
      stage: 'allow',
    });
    expect(rls.seen.length).toBe(before);
    expect(summary(await e.decide(request({ url: '/get' })))).toMatchObject({ status: 429, flags: ['RL'] });
  });

  it('between the DENY and ALLOW filters: it answers before ALLOW refuses', async () => {
    answer = () => OVER;
    const allowGet = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{ to: [{ operation: { methods: ["GET"] } }] }]
---
`;
    const e = engine(DENY_ADMIN + allowGet + yaml({ afterRbac: true }, VHOST_PATH));
    expect(summary(await e.decide(request({ url: '/admin' })))).toMatchObject({ status: 403, stage: 'deny' });
    expect(summary(await e.decide(request({ method: 'POST', url: '/post' })))).toMatchObject({
      status: 429,
      stage: 'ratelimit',
    });
  });

  it('before authorization when inserted first: the service answers before RBAC denies', async () => {
    answer = () => OVER;
    const e = engine(DENY_ADMIN + yaml({ first: true }, VHOST_PATH));
    const d = await e.decide(request({ url: '/admin' }));
    expect(summary(d)).toMatchObject({ status: 429, stage: 'ratelimit' });
    expect(rls.seen.at(-1)?.descriptors[0]?.entries).toEqual([{ key: 'PATH', value: '/admin' }]);
  });

  it("after jwt_authn it reads jwt_authn's output headers; before it, the caller's own", async () => {
    const limits = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { rate_limits: [{ actions: [{ request_headers: { header_name: x-jwt-sub, descriptor_key: user } }] }] }`;
    const jwt = fakeJwt({
      good: {
        ...token({ iss: 'https://issuer.example', sub: 'alice' }),
        setHeaders: { 'x-jwt-sub': 'alice' },
      },
    });
    const headers = { authorization: 'Bearer good', 'x-jwt-sub': 'mallory' };
    const after = engine(REQUEST_AUTHENTICATION + yaml({}, limits), { jwt });
    expect(summary(await after.decide(request({ url: '/get', headers })))).toBe('allow');
    expect(rls.seen.at(-1)?.descriptors[0]?.entries).toEqual([{ key: 'user', value: 'alice' }]);
    const first = engine(REQUEST_AUTHENTICATION + yaml({ first: true }, limits), { jwt });
    expect(summary(await first.decide(request({ url: '/get', headers })))).toBe('allow');
    expect(rls.seen.at(-1)?.descriptors[0]?.entries).toEqual([{ key: 'user', value: 'mallory' }]);
  });
});

describe('after a CUSTOM provider', () => {
  it("reads the request as ext_authz left it: the header it set on allow, not the caller's", async () => {
    const { port, seen } = await authzServer((_req, res) => {
      res.setHeader('x-user', 'alice');
      res.end();
    });
    const limits = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { rate_limits: [{ actions: [{ request_headers: { header_name: x-user, descriptor_key: user } }] }] }`;
    const custom = `${sample('authz/http/custom-simple-http-in.yaml')}\n---\n`;
    const meshConfig = { extensionProviders: [extAuthzHttpProvider(port)] };
    const forged = { 'x-user': 'mallory' };
    const e = engineFor(planOf(custom + yaml({ afterExtAuthz: true }, limits), { meshConfig }));
    engines.push(e);
    expect(summary(await e.decide(request({ url: '/httpbin1', headers: forged })))).toBe('allow');
    expect(seen).toHaveLength(1);
    expect(rls.seen.at(-1)?.descriptors[0]?.entries).toEqual([{ key: 'user', value: 'alice' }]);
    answer = () => OVER;
    expect(summary(await e.decide(request({ url: '/httpbin1', headers: forged })))).toMatchObject({
      status: 429,
    });
  });
});

describe("the service's answer", () => {
  it('passes request_headers_to_add to the application and response_headers_to_add to the response', async () => {
    answer = () => ({
      overall_code: 'OK',
      request_headers_to_add: [{ key: 'X-Quota-Class', value: 'gold' }],
      response_headers_to_add: [{ key: 'x-quota-left', value: '7' }],
    });
    const d = await engine(yaml({}, VHOST_PATH)).decide(request({ url: '/get' }));
    expect(d.allow ? [d.setHeaders['x-quota-class'], d.responseHeaders['x-quota-left']] : d).toEqual([
      'gold',
      '7',
    ]);
  });

  it("limits with its raw_body and headers, the filter's rate_limited_status and response_headers_to_add, and no x-envoy-ratelimited when disabled", async () => {
    answer = () => ({
      ...OVER,
      raw_body: Buffer.from('slow down'),
      response_headers_to_add: [{ key: 'retry-after', value: '30' }],
    });
    const e = engine(
      yaml(
        {
          config: `rate_limited_status: { code: 503 }
          disable_x_envoy_ratelimited_header: true
          response_headers_to_add: [{ header: { key: x-limited-by, value: meshlet }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }]`,
        },
        VHOST_PATH,
      ),
    );
    const d = await e.decide(request({ url: '/get' }));
    if (d.allow) throw new Error('allowed');
    expect([
      d.status,
      d.body,
      d.headers['retry-after'],
      d.headers['x-limited-by'],
      d.headers['x-envoy-ratelimited'],
    ]).toEqual([503, 'slow down', '30', 'meshlet', undefined]);
  });

  it('treats UNKNOWN as OK, as Envoy does outside debug builds', async () => {
    answer = () => ({ overall_code: 'UNKNOWN' });
    expect(
      summary(await engine(yaml({ config: 'failure_mode_deny: true' }, VHOST_PATH)).decide(request())),
    ).toBe('allow');
  });

  it('fails open on a gRPC error, and closed with status_on_error and RLSE under failure_mode_deny', async () => {
    answer = () => ({ grpcError: 14 });
    expect(summary(await engine(yaml({}, VHOST_PATH)).decide(request()))).toBe('allow');
    const closed = engine(
      yaml({ config: 'failure_mode_deny: true\n          status_on_error: { code: 503 }' }, VHOST_PATH),
    );
    expect(summary(await closed.decide(request()))).toEqual({
      status: 503,
      flags: ['RLSE'],
      stage: 'ratelimit',
      details: 'rate_limiter_error',
    });
  });

  it('fails a call to a cluster the proxy does not have, without a request to any service', async () => {
    const before = rls.seen.length;
    const e = engine(yaml({ cluster: 'no-such-cluster', config: 'failure_mode_deny: true' }, VHOST_PATH));
    expect(summary(await e.decide(request()))).toMatchObject({ status: 500, flags: ['RLSE'] });
    expect(rls.seen.length).toBe(before);
  });

  it('gives up at its timeout on the clock and lets the request through', async () => {
    answer = () => 'hang';
    const clock = createManualClock();
    const e = engine(yaml({ config: '' }, VHOST_PATH).replace('timeout: 5s', 'timeout: 0.05s'), { clock });
    const before = rls.seen.length;
    const pending = e.decide(request());
    let settled = false;
    void pending.then(() => (settled = true));
    // The call is in flight (the service has it); 40 ms of clock do not end it.
    for (let i = 0; i < 50 && rls.seen.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(rls.seen.length).toBe(before + 1);
    await clock.advance(40);
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    await clock.advance(10);
    expect(summary(await pending)).toBe('allow');
  });
});

describe('which descriptors a filter sends', () => {
  const route = (include: string) => `  - applyTo: HTTP_ROUTE
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { route: { ${include} rate_limits: [{ actions: [{ generic_key: { descriptor_value: route } }] }] } }`;

  it("sends the route's rate_limits and not the virtual host's, unless include_vh_rate_limits", async () => {
    await engine(yaml({}, `${VHOST_PATH}\n${route('')}`)).decide(request({ url: '/get' }));
    expect(rls.seen.at(-1)?.descriptors.map((d) => d.entries)).toEqual([
      [{ key: 'generic_key', value: 'route' }],
    ]);
    await engine(yaml({}, `${VHOST_PATH}\n${route('include_vh_rate_limits: true,')}`)).decide(
      request({ url: '/get' }),
    );
    expect(rls.seen.at(-1)?.descriptors.map((d) => d.entries)).toEqual([
      [{ key: 'generic_key', value: 'route' }],
      [{ key: 'PATH', value: '/get' }],
    ]);
  });

  it("sends only the entries of the filter's stage, and makes no call without one", async () => {
    const staged = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value:
        rate_limits:
        - { stage: 1, actions: [{ generic_key: { descriptor_value: one } }] }
        - { actions: [{ generic_key: { descriptor_value: zero } }] }`;
    await engine(yaml({ stage: 1 }, staged)).decide(request());
    expect(rls.seen.at(-1)?.descriptors.map((d) => d.entries)).toEqual([
      [{ key: 'generic_key', value: 'one' }],
    ]);
    const before = rls.seen.length;
    await engine(yaml({ stage: 2 }, staged)).decide(request());
    expect(rls.seen.length).toBe(before);
  });

  it('never runs a request_type internal filter, and runs an external one, whatever x-envoy-internal the caller sent', async () => {
    // The connection manager removes a caller's x-envoy-internal and marks no request internal
    // (conn_manager_utility.cc mutateRequestHeaders; internal-headers.test.ts), so the filter's
    // HeaderUtility::isEnvoyInternalRequest is false on every request (ratelimit.cc).
    const internal = engine(yaml({ config: 'request_type: internal' }, VHOST_PATH));
    const before = rls.seen.length;
    await internal.decide(request());
    await internal.decide(request({ headers: { 'x-envoy-internal': 'true' } }));
    expect(rls.seen.length).toBe(before);
    const external = engine(yaml({ config: 'request_type: external' }, VHOST_PATH));
    await external.decide(request({ headers: { 'x-envoy-internal': 'true' } }));
    expect(rls.seen.length).toBe(before + 1);
    await external.decide(request());
    expect(rls.seen.length).toBe(before + 2);
  });

  it('sends the inbound cluster as destination_cluster and the proxy service cluster as source_cluster', async () => {
    const limits = `  - applyTo: VIRTUAL_HOST
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: { action: ANY } } } }
    patch:
      operation: MERGE
      value: { rate_limits: [{ actions: [{ source_cluster: {} }, { destination_cluster: {} }] }] }`;
    await engine(yaml({}, limits)).decide(request({ port: 8000 }));
    expect(rls.seen.at(-1)?.descriptors[0]?.entries).toEqual([
      { key: 'source_cluster', value: 'httpbin.foo' },
      { key: 'destination_cluster', value: 'inbound|8000||' },
    ]);
  });
});
