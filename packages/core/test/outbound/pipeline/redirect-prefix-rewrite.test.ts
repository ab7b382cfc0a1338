import { describe, expect, it } from 'vitest';
import { bookinfo, echoAddress, harness, planOf } from './support/setup.js';
import { threeV1 } from './support/yaml.js';

// HTTPRedirect.prefixRewrite becomes Envoy's RedirectAction `prefix_rewrite` (istio
// route.go ApplyRedirect). Envoy swaps the part of the path the route matched — its
// prefix, `/` for a rule with no uri match (istio TranslateRouteMatch) — and keeps the
// rest and the query (envoy config_impl.cc finalizePathHeaderForRedirect,
// rewritePathByPrefixOrRegex). Istio's webhook allows prefixRewrite with prefix uri
// matches only (validation.go validateHTTPRedirect).

function vs(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
${http}`;
}

async function locationOf(rule: string, url: string): Promise<[number, string | null]> {
  const h = harness(planOf([...bookinfo(), vs(rule)], threeV1), echoAddress);
  const res = await h.call(url);
  expect(h.transport.seen).toHaveLength(0);
  return [res.status, res.headers.get('location')];
}

describe('redirect prefixRewrite', () => {
  it.each([
    [
      'the matched prefix is swapped; the rest and the query are kept',
      '[{ uri: { prefix: /old } }]',
      '{ prefixRewrite: /new }',
      '/old/items?id=3',
      'http://reviews:9080/new/items?id=3',
    ],
    [
      'a prefix with its slash rewritten to / drops the prefix',
      '[{ uri: { prefix: /shop/ } }]',
      '{ prefixRewrite: / }',
      '/shop/cart',
      'http://reviews:9080/cart',
    ],
    [
      'a prefix without its slash rewritten to / leaves a double slash, as Envoy does',
      '[{ uri: { prefix: /shop } }]',
      '{ prefixRewrite: / }',
      '/shop/cart',
      'http://reviews:9080//cart',
    ],
    [
      'the prefix of the match entry that matched',
      '[{ uri: { prefix: /a/ } }, { uri: { prefix: /bb/ } }]',
      '{ prefixRewrite: /v2/ }',
      '/bb/x',
      'http://reviews:9080/v2/x',
    ],
    [
      'an ignoreUriCase prefix is swapped for its length',
      '[{ uri: { prefix: /OLD }, ignoreUriCase: true }]',
      '{ prefixRewrite: /new }',
      '/old/x',
      'http://reviews:9080/new/x',
    ],
    [
      'a match entry without uri matches the prefix /',
      '[{ headers: { x-go: { exact: "1" } } }]',
      '{ prefixRewrite: /v2/ }',
      '/items',
      'http://reviews:9080/v2/items',
    ],
    [
      'with authority, scheme and code',
      '[{ uri: { prefix: /api/v1 } }]',
      '{ prefixRewrite: /api/v2, authority: api.example.com, scheme: https, redirectCode: 308 }',
      '/api/v1/users?page=2',
      'https://api.example.com/api/v2/users?page=2',
    ],
  ])('%s', async (_name, match, redirect, path, location) => {
    const headers = match.includes('x-go') ? { 'x-go': '1' } : {};
    const h = harness(
      planOf([...bookinfo(), vs(`  - match: ${match}\n    redirect: ${redirect}\n`)], threeV1),
      echoAddress,
    );
    const res = await h.call(`http://reviews:9080${path}`, { headers });
    expect([res.status, res.headers.get('location')]).toEqual([
      redirect.includes('308') ? 308 : 301,
      location,
    ]);
    expect(h.transport.seen).toHaveLength(0);
  });

  it('swaps the prefix / of a rule with no match (Istio’s own route_test case)', async () => {
    // route_test.go "for prefix_rewrite redirect": prefixRewrite "/" with a new authority.
    expect(
      await locationOf(
        '  - redirect: { authority: foo.example.com, prefixRewrite: /, redirectCode: 301 }\n',
        'http://reviews:9080/a/b?c=1',
      ),
    ).toEqual([301, 'http://foo.example.com/a/b?c=1']);
    expect(await locationOf('  - redirect: { prefixRewrite: /v2 }\n', 'http://reviews:9080/items')).toEqual([
      301,
      'http://reviews:9080/v2items',
    ]);
  });
});
