import { describe, expect, it } from 'vitest';
import { configDump } from '../../../src/admin/config-dump.js';
import { bookinfo, echoAddress, harness, planOf } from './support/setup.js';
import { reviewsVs, threeV1 } from './support/yaml.js';

// Istio puts `http[].corsPolicy` on the route for Envoy's CORS filter (pilot route.go
// TranslateCORSPolicy), which every outbound and gateway connection manager runs after the
// fault filter and before the router (listener_builder.go). The filter's behaviour is
// source/extensions/filters/http/cors/cors_filter.cc.
function vs(cors: string, extra = ''): string {
  const policy = cors
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
  return reviewsVs(`    corsPolicy:\n${policy}\n${extra}`);
}

const ISTIO_DOCS = `allowOrigins:
- exact: https://example.com
- regex: "https://.*\\\\.example\\\\.org"
allowMethods: [POST, GET]
allowCredentials: false
allowHeaders: [X-Foo-Bar]
exposeHeaders: [X-Exposed]
maxAge: "24h"`;

const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'POST', ...extra },
});

function corsHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    if (k.startsWith('access-control-')) out[k] = v;
  });
  return out;
}

describe('VirtualService corsPolicy (Envoy CORS filter)', () => {
  it('answers a preflight from an allowed origin itself: 200, no body, the policy as headers', async () => {
    const h = harness(planOf([...bookinfo(), vs(ISTIO_DOCS)], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/api', preflight('https://example.com'));
    expect([res.status, await res.text(), res.headers.get('content-length')]).toEqual([200, '', '0']);
    expect(corsHeaders(res.headers)).toEqual({
      'access-control-allow-origin': 'https://example.com',
      'access-control-allow-methods': 'POST,GET',
      'access-control-allow-headers': 'X-Foo-Bar',
      'access-control-max-age': '86400',
    });
    expect(res.meshlet.flags).toEqual([]);
    expect(res.meshlet.attempts).toBe(0);
    expect(h.transport.seen).toHaveLength(0);
  });

  it('matches origins by regex (full match) and exact, case-sensitively', async () => {
    const h = harness(planOf([...bookinfo(), vs(ISTIO_DOCS)], threeV1), echoAddress);
    const ok = await h.call('http://reviews:9080/', preflight('https://a.example.org'));
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://a.example.org');
    // Not allowed, and unmatchedPreflights defaults to FORWARD: the preflight goes upstream
    // as any request, and its response carries no CORS header.
    for (const origin of ['https://EXAMPLE.com', 'https://a.example.org.evil', 'http://example.com']) {
      const res = await h.call('http://reviews:9080/', preflight(origin));
      expect([res.status, corsHeaders(res.headers)]).toEqual([200, {}]);
    }
    expect(h.transport.seen.map((s) => [s.method, s.headers.origin])).toEqual([
      ['OPTIONS', 'https://EXAMPLE.com'],
      ['OPTIONS', 'https://a.example.org.evil'],
      ['OPTIONS', 'http://example.com'],
    ]);
  });

  it('unmatchedPreflights IGNORE answers a preflight from another origin without allowing it', async () => {
    const h = harness(
      planOf([...bookinfo(), vs(`${ISTIO_DOCS}\nunmatchedPreflights: IGNORE`)], threeV1),
      echoAddress,
    );
    const res = await h.call('http://reviews:9080/', preflight('https://other.com'));
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBe('POST,GET');
    expect(h.transport.seen).toHaveLength(0);
  });

  it('adds allow-origin, credentials and expose-headers to the response of an allowed actual request', async () => {
    const cors = `allowOrigins: [{ prefix: "https://app." }]\nallowCredentials: true\nexposeHeaders: [X-A, X-B]`;
    const h = harness(planOf([...bookinfo(), vs(cors)], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/', { headers: { origin: 'https://app.example.com' } });
    expect([res.status, await res.text()]).toEqual([200, '10.0.1.1:9080']);
    expect(corsHeaders(res.headers)).toEqual({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'X-A,X-B',
    });
    // The request goes upstream with its Origin untouched.
    expect(h.transport.seen[0]?.headers.origin).toBe('https://app.example.com');
    // Without Origin it is no CORS request at all.
    const plain = await h.call('http://reviews:9080/');
    expect(corsHeaders(plain.headers)).toEqual({});
  });

  it('forwards an OPTIONS without Access-Control-Request-Method as an actual request', async () => {
    const h = harness(planOf([...bookinfo(), vs(ISTIO_DOCS)], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/', {
      method: 'OPTIONS',
      headers: { origin: 'https://example.com' },
    });
    expect(h.transport.seen.map((s) => s.method)).toEqual(['OPTIONS']);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://example.com');
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('echoes the requested method and headers for "*", and allows every origin for exact "*"', async () => {
    const cors = `allowOrigins: [{ exact: "*" }]\nallowMethods: ["*"]\nallowHeaders: ["*"]\nmaxAge: 90s`;
    const h = harness(planOf([...bookinfo(), vs(cors)], threeV1), echoAddress);
    const res = await h.call(
      'http://reviews:9080/',
      preflight('https://anyone.net', { 'access-control-request-headers': 'x-a, content-type' }),
    );
    expect(corsHeaders(res.headers)).toEqual({
      'access-control-allow-origin': 'https://anyone.net',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'x-a, content-type',
      'access-control-max-age': '90',
    });
  });

  it('takes allowOrigins over the deprecated allowOrigin when both are set', async () => {
    const cors = `allowOrigins: [{ exact: "https://new.example" }]\nallowOrigin: ["https://old.example"]`;
    const h = harness(planOf([...bookinfo(), vs(cors)], threeV1), echoAddress);
    const old = await h.call('http://reviews:9080/', { headers: { origin: 'https://old.example' } });
    const neu = await h.call('http://reviews:9080/', { headers: { origin: 'https://new.example' } });
    expect([
      old.headers.get('access-control-allow-origin'),
      neu.headers.get('access-control-allow-origin'),
    ]).toEqual([null, 'https://new.example']);
  });

  it('sets its headers over the route response header operations, and on the router local replies', async () => {
    const extra = `    headers: { response: { set: { access-control-allow-origin: "https://from-route" } } }\n`;
    const h = harness(planOf([...bookinfo(), vs(ISTIO_DOCS, extra)], threeV1), () => ({
      fail: 'connect-failure',
    }));
    const res = await h.call('http://reviews:9080/', { headers: { origin: 'https://example.com' } });
    expect(res.status).toBe(503);
    expect(res.meshlet.flags).toEqual(['UF', 'URX']);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://example.com');
  });

  it('runs after the fault filter: an abort carries no CORS header, a delay delays the preflight', async () => {
    const abort = `    fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }\n`;
    const h = harness(planOf([...bookinfo(), vs(ISTIO_DOCS, abort)], threeV1), echoAddress);
    const res = await h.call('http://reviews:9080/', preflight('https://example.com'));
    expect([res.status, res.meshlet.flags, corsHeaders(res.headers)]).toEqual([418, ['FI'], {}]);

    const delay = `    fault: { delay: { fixedDelay: 2s, percentage: { value: 100 } } }\n`;
    const d = harness(planOf([...bookinfo(), vs(ISTIO_DOCS, delay)], threeV1), echoAddress);
    const t0 = d.clock.now();
    const late = await d.call('http://reviews:9080/', preflight('https://example.com'));
    expect([late.status, late.meshlet.flags, d.clock.now() - t0 >= 2000]).toEqual([200, ['DI'], true]);
    expect(late.headers.get('access-control-allow-origin')).toBe('https://example.com');
  });

  it('answers the preflight of a directResponse route and adds its headers to the direct response', async () => {
    const direct = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - corsPolicy: { allowOrigins: [{ exact: "https://example.com" }], allowMethods: [GET] }
    directResponse: { status: 503, body: { string: "down" } }
`;
    const h = harness(planOf([...bookinfo(), direct], threeV1), echoAddress);
    const pre = await h.call('http://reviews:9080/', preflight('https://example.com'));
    expect([pre.status, pre.headers.get('access-control-allow-methods')]).toEqual([200, 'GET']);
    const res = await h.call('http://reviews:9080/', { headers: { origin: 'https://example.com' } });
    expect([res.status, await res.text(), res.headers.get('access-control-allow-origin')]).toEqual([
      503,
      'down',
      'https://example.com',
    ]);
  });

  it('shows the whole policy in /config_dump, its origins described', () => {
    const plan = planOf([...bookinfo(), vs(`${ISTIO_DOCS}\nunmatchedPreflights: IGNORE`)], threeV1);
    const dump = configDump(plan, { hash: 'h', loadedAt: 0, files: [] });
    const route = dump.virtualHosts.find((v) => v.virtualService === 'reviews.default')?.routes[0];
    expect(JSON.parse(JSON.stringify(route?.cors))).toEqual({
      allowOrigins: ['exact "https://example.com"', 'regex "https://.*\\\\.example\\\\.org"'],
      allowMethods: ['POST', 'GET'],
      allowHeaders: ['X-Foo-Bar'],
      exposeHeaders: ['X-Exposed'],
      maxAgeMs: 86_400_000,
      allowCredentials: false,
      unmatchedPreflights: 'IGNORE',
    });
  });
});
