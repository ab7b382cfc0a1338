import { describe, expect, it } from 'vitest';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { bookinfo, harness, planOf } from './support/setup.js';
import { mongoTcp, reviewsVs, threeV1 } from './support/yaml.js';

// meshConfig.defaultConfig.proxyHeaders (istio/api ProxyConfig.ProxyHeaders):
// `envoyDebugHeaders.disabled` sets the router's suppress_envoy_headers (istio
// listener_builder.go BuildRouterFilter), which drops the x-envoy-* headers the router
// adds: -upstream-service-time and -overloaded on responses, -expected-rq-timeout-ms and
// -original-path on requests (envoy router.cc). `attemptCount.disabled` drops
// x-envoy-attempt-count (include_request_attempt_count). `server` is the outbound
// connection manager's server_name, `envoy` unless `server.value` names another, written
// over the upstream's and on local replies, after the route's header operations
// (envoy conn_manager_impl.cc ActiveStream::encodeHeaders; istio proxy_headers.go);
// `server.disabled` is PASS_THROUGH.
const ROUTE = `    timeout: 2s
    rewrite: { uri: /v2 }
`;

function plans(proxyHeaders: string | null) {
  const docs = [...bookinfo(), reviewsVs(ROUTE)];
  if (proxyHeaders !== null) docs.push(istioConfigMap(`defaultConfig:\n  proxyHeaders:\n${proxyHeaders}`));
  return planOf(docs, threeV1);
}

describe('meshConfig defaultConfig.proxyHeaders on outbound calls', () => {
  it("adds Envoy's router headers by default", async () => {
    const h = harness(plans(null), () => ({ status: 200 }));
    const res = await h.call('http://reviews:9080/v1');
    const sent = h.transport.seen[0]!.headers;
    expect(sent['x-envoy-expected-rq-timeout-ms']).toBe('2000');
    expect(sent['x-envoy-original-path']).toBe('/v1');
    expect(sent['x-envoy-attempt-count']).toBe('1');
    expect(res.headers.get('x-envoy-upstream-service-time')).toMatch(/^\d+$/);
  });

  it('drops them with envoyDebugHeaders disabled, keeping the attempt count', async () => {
    const h = harness(plans('    envoyDebugHeaders: { disabled: true }'), () => ({ status: 200 }));
    expect(h.plan.meshConfig.proxyHeaders).toMatchObject({ envoyDebugHeaders: false, attemptCount: true });
    const res = await h.call('http://reviews:9080/v1');
    const sent = h.transport.seen[0]!.headers;
    // The default match is prefix "/", which the rewrite replaces.
    expect(h.transport.seen[0]!.path).toBe('/v2v1');
    expect(sent['x-envoy-expected-rq-timeout-ms']).toBeUndefined();
    expect(sent['x-envoy-original-path']).toBeUndefined();
    expect(sent['x-envoy-attempt-count']).toBe('1');
    expect(res.headers.has('x-envoy-upstream-service-time')).toBe(false);

    h.clusters.maxRequests = 0;
    const overflow = await h.call('http://reviews:9080/v1');
    expect([overflow.status, overflow.meshlet.flags]).toEqual([503, ['UO']]);
    expect(overflow.headers.has('x-envoy-overloaded')).toBe(false);
  });

  it('drops only x-envoy-attempt-count with attemptCount disabled', async () => {
    const h = harness(plans('    attemptCount: { disabled: true }'), () => ({ status: 200 }));
    const res = await h.call('http://reviews:9080/v1');
    const sent = h.transport.seen[0]!.headers;
    expect(sent['x-envoy-attempt-count']).toBeUndefined();
    expect(sent['x-envoy-expected-rq-timeout-ms']).toBe('2000');
    expect(res.headers.get('x-envoy-upstream-service-time')).toMatch(/^\d+$/);
    expect(res.meshlet.attempts).toBe(1);
  });

  it("writes Envoy's server name over the upstream's, after the route's header operations, and on local replies", async () => {
    const docs = [
      ...bookinfo(),
      reviewsVs(`    headers:
      response:
        set: { server: from-the-route }
`),
    ];
    const h = harness(planOf(docs, threeV1), () => ({ status: 200, headers: { server: 'gunicorn/19' } }));
    const res = await h.call('http://reviews:9080/v1');
    expect(res.headers.get('server')).toBe('envoy');
    h.clusters.maxRequests = 0;
    const overflow = await h.call('http://reviews:9080/v1');
    expect([overflow.status, overflow.meshlet.flags, overflow.headers.get('server')]).toEqual([
      503,
      ['UO'],
      'envoy',
    ]);
    // A host outside the registry goes out through the PassthroughCluster: the same listener.
    const passthrough = await h.call('http://example.org:8080/');
    expect([passthrough.status, passthrough.meshlet.upstream?.cluster]).toEqual([200, 'PassthroughCluster']);
    expect(passthrough.headers.get('server')).toBe('envoy');
  });

  it('passes the upstream server through with server disabled, and names another with server.value', async () => {
    const off = harness(plans('    server: { disabled: true }'), () => ({
      status: 200,
      headers: { server: 'gunicorn/19' },
    }));
    expect((await off.call('http://reviews:9080/v1')).headers.get('server')).toBe('gunicorn/19');
    off.clusters.maxRequests = 0;
    expect((await off.call('http://reviews:9080/v1')).headers.has('server')).toBe(false);

    const named = harness(plans('    server: { value: edge-proxy }'), () => ({ status: 200 }));
    expect((await named.call('http://reviews:9080/v1')).headers.get('server')).toBe('edge-proxy');
  });

  it('leaves a TCP-proxied response alone, and treats an ALLOW_ANY call as the allow_any route does', async () => {
    const h = harness(planOf([...bookinfo(), mongoTcp], threeV1), () => ({
      status: 200,
      headers: { server: 'upstream/1' },
    }));
    // A known port that is not HTTP: Envoy's tcp_proxy, no connection manager.
    const tcp = await h.call('http://mongo.example.com:27017/');
    expect(tcp.meshlet.upstream?.cluster).toBe('outbound|27017||mongo.example.com');
    expect(tcp.headers.get('server')).toBe('upstream/1');
    // ALLOW_ANY: the HTTP listener's allow_any route, which names itself and adds an id.
    const any = await h.call('http://example.org:8080/');
    expect([any.meshlet.route, any.headers.get('server')]).toEqual(['allow_any', 'envoy']);
    expect(h.transport.seen.at(-1)!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets x-forwarded-port to the port called when the request has none, with xForwardedPort enabled', async () => {
    const off = harness(plans(null), () => ({ status: 200 }));
    await off.call('http://reviews:9080/v1');
    expect(off.transport.seen[0]!.headers['x-forwarded-port']).toBeUndefined();

    const h = harness(plans('    xForwardedPort: { enabled: true }'), () => ({ status: 200 }));
    await h.call('http://reviews:9080/v1');
    expect(h.transport.seen[0]!.headers['x-forwarded-port']).toBe('9080');
    // A sidecar's outbound listener keeps one the application sent.
    await h.call('http://reviews:9080/v1', { headers: { 'x-forwarded-port': '443' } });
    expect(h.transport.seen[1]!.headers['x-forwarded-port']).toBe('443');
    // ALLOW_ANY goes through the same connection manager.
    await h.call('http://example.org:8080/');
    expect(h.transport.seen[2]!.headers['x-forwarded-port']).toBe('8080');
  });

  it('sets it before routing, so a route can match on it', async () => {
    const docs = [
      ...bookinfo(),
      istioConfigMap('defaultConfig:\n  proxyHeaders:\n    xForwardedPort: { enabled: true }'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { x-forwarded-port: { exact: "9080" } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`,
    ];
    const endpoints = {
      reviews: [
        { address: '10.0.1.1', port: 9080, labels: { app: 'reviews', version: 'v1' } },
        { address: '10.0.2.1', port: 9080, labels: { app: 'reviews', version: 'v2' } },
      ],
    };
    const h = harness(planOf(docs, endpoints), () => ({ status: 200 }));
    expect((await h.call('http://reviews:9080/')).meshlet.upstream?.subset).toBe('v2');
  });

  describe('x-forwarded-host with xForwardedHost enabled', () => {
    const vs = (
      rule: string,
      destinations = '[{ destination: { host: reviews, subset: v1 } }]',
    ) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: ${destinations}
${rule}`;
    const call = async (
      rule: string,
      opts: { enabled?: boolean; xfh?: string; destinations?: string } = {},
    ) => {
      const docs = [...bookinfo(), vs(rule, opts.destinations)];
      if (opts.enabled !== false)
        docs.push(istioConfigMap('defaultConfig:\n  proxyHeaders:\n    xForwardedHost: { enabled: true }'));
      const h = harness(planOf(docs, threeV1), () => ({ status: 200 }));
      await h.call(
        'http://reviews:9080/v1',
        opts.xfh === undefined ? {} : { headers: { 'x-forwarded-host': opts.xfh } },
      );
      const sent = h.transport.seen[0]!.headers;
      return [sent['host'], sent['x-forwarded-host']];
    };

    it('appends the replaced Host when a rule with a rewrite rewrites the authority', async () => {
      expect(await call('    rewrite: { authority: reviews.internal }')).toEqual([
        'reviews.internal',
        'reviews:9080',
      ]);
      // A rewrite block and the authority from the rule's headers: still the route's host rewrite.
      expect(
        await call('    rewrite: { uri: /x }\n    headers: { request: { set: { host: reviews.internal } } }'),
      ).toEqual(['reviews.internal', 'reviews:9080']);
    });

    it('appends only when the last value differs (append_xfh_idempotent)', async () => {
      const rule = '    rewrite: { authority: reviews.internal }';
      expect(await call(rule, { xfh: 'edge.example.com' })).toEqual([
        'reviews.internal',
        'edge.example.com,reviews:9080',
      ]);
      expect(await call(rule, { xfh: 'edge.example.com, reviews:9080' })).toEqual([
        'reviews.internal',
        'edge.example.com, reviews:9080',
      ]);
    });

    it('does not append without a rewrite block, without a host rewrite, or when disabled', async () => {
      expect(await call('    headers: { request: { set: { host: reviews.internal } } }')).toEqual([
        'reviews.internal',
        undefined,
      ]);
      expect(await call('    rewrite: { uri: /x }')).toEqual(['reviews:9080', undefined]);
      expect(await call('    rewrite: { authority: reviews.internal }', { enabled: false })).toEqual([
        'reviews.internal',
        undefined,
      ]);
    });

    it("appends the weighted destination's authority that the route's rewrite replaces", async () => {
      const weighted = `
    - destination: { host: reviews, subset: v1 }
      weight: 100
      headers: { request: { set: { ':authority': reviews-v1.internal } } }
    - destination: { host: reviews, subset: v1 }
      weight: 0`;
      // A weighted destination's authority alone is a plain set, with no append.
      expect(await call('    rewrite: { uri: /x }', { destinations: weighted })).toEqual([
        'reviews-v1.internal',
        undefined,
      ]);
      expect(await call('    rewrite: { authority: reviews.internal }', { destinations: weighted })).toEqual([
        'reviews.internal',
        'reviews-v1.internal',
      ]);
    });
  });
});
