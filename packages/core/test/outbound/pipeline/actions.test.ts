import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/runtime/random.js';
import { bookinfo, echoAddress, flush, harness, planOf, sample } from './support/setup.js';
import { threeV1 } from './support/yaml.js';

function vs(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
${http}`;
}

describe('outbound route actions', () => {
  it.each([
    [
      'uri only, 301 by default',
      '{ uri: /v2/items }',
      'http://reviews:9080/old?q=1',
      301,
      'http://reviews:9080/v2/items?q=1',
    ],
    [
      'uri with its own query',
      '{ uri: "/new?x=2" }',
      'http://reviews:9080/old?q=1',
      301,
      'http://reviews:9080/new?x=2',
    ],
    [
      'authority and code',
      '{ authority: other.example.com, redirectCode: 302 }',
      'http://reviews:9080/a',
      302,
      'http://other.example.com/a',
    ],
    // istio route.go ApplyRedirect emits no port_redirect for FROM_PROTOCOL_DEFAULT (same Envoy
    // config as unset); envoy processRequestHost then keeps the Host's port unless it is the old
    // scheme's default.
    [
      'scheme https with FROM_PROTOCOL_DEFAULT keeps a non-default request port',
      '{ scheme: https, derivePort: FROM_PROTOCOL_DEFAULT }',
      'http://reviews:9080/a',
      301,
      'https://reviews:9080/a',
    ],
    [
      'scheme https with no port setting keeps a non-default request port',
      '{ scheme: https }',
      'http://reviews:9080/a',
      301,
      'https://reviews:9080/a',
    ],
    [
      'explicit port',
      '{ port: 8443, scheme: https }',
      'http://reviews:9080/a',
      301,
      'https://reviews:8443/a',
    ],
  ])('redirects (%s)', async (_name, redirect, url, status, location) => {
    const h = harness(planOf([...bookinfo(), vs(`  - redirect: ${redirect}\n`)], threeV1), echoAddress);
    const res = await h.call(url);
    expect([res.status, res.headers.get('location'), res.meshlet.flags, res.meshlet.attempts]).toEqual([
      status,
      location,
      [],
      0,
    ]);
    expect(h.transport.seen).toHaveLength(0);
  });

  it('answers a directResponse with its status and body, applying the rule response headers', async () => {
    const h = harness(
      planOf(
        [
          ...bookinfo(),
          vs(
            '  - directResponse: { status: 418, body: { string: "short and stout" } }\n    headers: { response: { set: { x-teapot: "yes" } } }\n',
          ),
        ],
        threeV1,
      ),
      echoAddress,
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, await res.text(), res.headers.get('x-teapot'), res.ok]).toEqual([
      418,
      'short and stout',
      'yes',
      false,
    ]);
  });

  it.each([
    [
      'prefix rewrite keeps the rest and the query',
      '{ uri: { prefix: /api/v1 } }',
      '{ uri: /v2 }',
      '/api/v1/items?id=3',
      '/v2/items?id=3',
    ],
    [
      'prefix rewrite to / doubles the slash, as Envoy does',
      '{ uri: { prefix: /foo } }',
      '{ uri: / }',
      '/foo/bar',
      '//bar',
    ],
    [
      'exact match rewrites the whole path',
      '{ uri: { exact: /login } }',
      '{ uri: /auth/login }',
      '/login?next=/',
      '/auth/login?next=/',
    ],
    [
      'an entry with no uri match is the prefix /, as istio TranslateRouteMatch makes it',
      '{ headers: { end-user: { exact: jason } } }',
      '{ uri: /v2 }',
      '/reviews/1',
      '/v2reviews/1',
    ],
    [
      'the entry before a catch-all keeps its prefix',
      '{ uri: { prefix: /api } }, {}',
      '{ uri: /v2 }',
      '/api/items',
      '/v2/items',
    ],
    [
      'the catch-all entry after it is the prefix /',
      '{ uri: { prefix: /api } }, {}',
      '{ uri: /v2/ }',
      '/other',
      '/v2/other',
    ],
    [
      'uriRegexRewrite with groups',
      '{ uri: { prefix: /u } }',
      '{ uriRegexRewrite: { match: "^/u/([^/]+)/x$", rewrite: "/users/\\\\1" } }',
      '/u/42/x',
      '/users/42',
    ],
  ])(
    'rewrites the path (%s) and keeps the original in x-envoy-original-path',
    async (_n, match, rewrite, path, want) => {
      const h = harness(
        planOf(
          [
            ...bookinfo(),
            vs(
              `  - match: [${match}]\n    rewrite: ${rewrite}\n    route: [{ destination: { host: reviews, subset: v1 } }]\n`,
            ),
          ],
          threeV1,
        ),
        echoAddress,
      );
      const res = await h.call(`http://reviews:9080${path}`, { headers: { 'end-user': 'jason' } });
      expect(res.status).toBe(200);
      expect(h.transport.seen[0]?.path).toBe(want);
      expect(h.transport.seen[0]?.headers['x-envoy-original-path']).toBe(path);
    },
  );

  it('rewrites the authority the upstream sees', async () => {
    const h = harness(
      planOf(
        [
          ...bookinfo(),
          vs(
            '  - rewrite: { authority: reviews.internal }\n    route: [{ destination: { host: reviews, subset: v1 } }]\n',
          ),
        ],
        threeV1,
      ),
      echoAddress,
    );
    await h.call('http://reviews:9080/');
    expect(h.transport.seen[0]?.headers['host']).toBe('reviews.internal');
    expect(h.transport.seen[0]?.headers['x-envoy-original-path']).toBeUndefined();
  });

  it('applies rule then destination header operations (remove, set, add) to request and response', async () => {
    const http = `  - headers:
      request:
        set: { x-rule: rule, x-both: rule }
        add: { x-added: one }
        remove: [x-secret]
      response:
        set: { x-resp: rule }
        remove: [server]
    route:
    - destination: { host: reviews, subset: v1 }
      headers:
        request: { set: { x-both: dest } }
        response: { add: { x-resp: dest } }
`;
    const h = harness(planOf([...bookinfo(), vs(http)], threeV1), () => ({
      status: 200,
      headers: { server: 'upstream', 'x-resp': 'upstream' },
    }));
    const res = await h.call('http://reviews:9080/', { headers: { 'X-Secret': 's', 'x-added': 'zero' } });
    const sent = h.transport.seen[0]!.headers;
    expect([sent['x-rule'], sent['x-both'], sent['x-secret'], sent['x-added']]).toEqual([
      'rule',
      'dest',
      undefined,
      ['zero', 'one'],
    ]);
    expect(sent['x-envoy-attempt-count']).toBe('1');
    expect(typeof sent['x-request-id']).toBe('string');
    // The route removed the upstream's server; the connection manager then writes its own
    // over whatever is left (OVERWRITE, conn_manager_impl.cc ActiveStream::encodeHeaders).
    expect(res.headers.get('server')).toBe('envoy');
    expect(res.headers.get('x-resp')).toBe('rule, dest');
    expect(res.headers.get('x-envoy-upstream-service-time')).toBe('0');
  });

  it('mirrors to httpbin v2 with a -shadow Host, fire-and-forget (Istio mirroring task)', async () => {
    const endpoints = {
      httpbin: [
        { address: '10.0.9.1', port: 8000, labels: { app: 'httpbin', version: 'v1' } },
        { address: '10.0.9.2', port: 8000, labels: { app: 'httpbin', version: 'v2' } },
      ],
    };
    const plan = planOf(
      [
        sample('tasks/mirroring/00-httpbin-v1-v2-topology.yaml'),
        sample('tasks/mirroring/01-httpbin-all-v1.yaml'),
        sample('tasks/mirroring/02-httpbin-mirror-v2.yaml'),
      ],
      endpoints,
    );
    const h = harness(plan, (req) =>
      req.address.startsWith('10.0.9.2') ? { fail: 'reset' } : { status: 200, body: 'primary' },
    );
    const res = await h.call('http://httpbin:8000/headers', { method: 'POST', body: 'hello' });
    await flush();
    expect([res.status, await res.text(), res.meshlet.flags, res.meshlet.upstream?.subset]).toEqual([
      200,
      'primary',
      [],
      'v1',
    ]);
    const shadow = h.transport.seen.find((s) => s.address === '10.0.9.2:8000');
    expect(shadow?.headers['host']).toBe('httpbin-shadow:8000');
    expect([shadow?.method, shadow?.path, shadow?.body]).toEqual(['POST', '/headers', 'hello']);
    const primary = h.transport.seen.find((s) => s.address === '10.0.9.1:8000');
    expect(primary?.headers['host']).toBe('httpbin:8000');
  });

  it('mirrors about mirrorPercentage of calls', async () => {
    const http = `  - route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: reviews, subset: v2 }
    mirrorPercentage: { value: 25 }
`;
    const endpoints = {
      reviews: [
        { address: '10.0.1.1', port: 9080, labels: { app: 'reviews', version: 'v1' } },
        { address: '10.0.1.2', port: 9080, labels: { app: 'reviews', version: 'v2' } },
      ],
    };
    const h = harness(planOf([...bookinfo(), vs(http)], endpoints), echoAddress, {
      random: seededRandom(11),
    });
    const n = 1000;
    for (let i = 0; i < n; i++) await h.call('http://reviews:9080/');
    await flush();
    const mirrored = h.transport.seen.filter((s) => s.address === '10.0.1.2:9080').length;
    expect(Math.abs(mirrored - 250)).toBeLessThan(4 * Math.sqrt(n * 0.25 * 0.75));
  });
});
