import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { extAuthzHttpProvider as provider, useExtAuthzServers } from './ext-authz-http-server.js';
import { engineFor, planOf, request, sample, verdict } from './support.js';

const { servers, authzServer } = useExtAuthzServers();

const CUSTOM = sample('authz/http/custom-simple-http-in.yaml');

describe('CUSTOM authorization (envoyExtAuthzHttp)', () => {
  it('asks the server for matching requests and copies headersToUpstreamOnAllow', async () => {
    const { port, seen } = await authzServer((req, res) => {
      res.setHeader('x-user', 'alice');
      res.setHeader('x-other', 'dropped');
      res.end('ok');
    });
    const engine = engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port)] } }));
    const d = await engine.decide(
      request({
        method: 'POST',
        url: '/x/../httpbin1?q=1',
        headers: { 'x-ext-authz': 'allow', 'x-prefix-a': '1', cookie: 'secret', authorization: 'Bearer t' },
      }),
    );
    expect(d.allow && d.setHeaders).toEqual({ 'x-forwarded-proto': 'http', 'x-user': 'alice' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/check/httpbin1?q=1' });
    expect(seen[0]!.headers).toMatchObject({
      'x-ext-authz': 'allow',
      'x-prefix-a': '1',
      authorization: 'Bearer t',
    });
    expect(seen[0]!.headers['cookie']).toBeUndefined();
    expect(seen[0]!.headers['x-forwarded-host']).toBe('httpbin.foo:8000');
  });

  it('does not call the server for requests no CUSTOM rule matches', async () => {
    const { port, seen } = await authzServer((_req, res) => res.end());
    const engine = engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port)] } }));
    expect(verdict(await engine.decide(request({ url: '/other' })))).toBe('allow');
    expect(seen).toHaveLength(0);
  });

  it("denies with the server's status, body and headersToDownstreamOnDeny, flag UAEX", async () => {
    const { port } = await authzServer((_req, res) => {
      res.statusCode = 403;
      res.setHeader('x-deny-reason', 'no ticket');
      res.setHeader('x-internal', 'hidden');
      res.end('denied by ext_authz for header `x-ext-authz: allow` not found');
    });
    const engine = engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port)] } }));
    const d = await engine.decide(request({ url: '/httpbin2' }));
    expect(d.allow).toBe(false);
    if (!d.allow) {
      expect(d.status).toBe(403);
      expect(d.body).toBe('denied by ext_authz for header `x-ext-authz: allow` not found');
      expect(d.headers['x-deny-reason']).toBe('no ticket');
      expect(d.headers['x-internal']).toBeUndefined();
      expect(d.flags).toEqual(['UAEX']);
      expect(d.reason).toMatchObject({ stage: 'custom', policy: 'foo/httpbin-2' });
    }
  });

  it('keeps Location and WWW-Authenticate on a denial beside headersToDownstreamOnDeny, as Envoy does (oauth2-proxy login redirect)', async () => {
    // envoy ext_authz_http_impl.cc toClientMatchers: a non-empty allowed_client_headers list
    // always also allows :status, Content-Length, WWW-Authenticate and Location.
    const { port } = await authzServer((_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', 'https://auth.example.com/oauth2/start?rd=%2Fhttpbin2');
      res.setHeader('set-cookie', '_oauth2_proxy_csrf=abc; Path=/; HttpOnly');
      res.setHeader('www-authenticate', 'Bearer realm="example"');
      res.setHeader('x-internal', 'hidden');
      res.end();
    });
    const engine = engineFor(
      planOf(CUSTOM, {
        meshConfig: {
          extensionProviders: [provider(port, { headersToDownstreamOnDeny: ['content-type', 'set-cookie'] })],
        },
      }),
    );
    const d = await engine.decide(request({ url: '/httpbin2' }));
    expect(d.allow).toBe(false);
    if (!d.allow) {
      expect(d.status).toBe(302);
      expect(d.headers).toEqual({
        location: 'https://auth.example.com/oauth2/start?rd=%2Fhttpbin2',
        'set-cookie': '_oauth2_proxy_csrf=abc; Path=/; HttpOnly',
        'www-authenticate': 'Bearer realm="example"',
        // The connection manager's own, written last on every response it encodes.
        server: 'istio-envoy',
      });
    }
  });

  it('fails closed with statusOnError when the server does not answer in time', async () => {
    const { port, seen } = await authzServer(() => {
      // never answers
    });
    const clock = createManualClock();
    const engine = engineFor(
      planOf(CUSTOM, {
        meshConfig: { extensionProviders: [provider(port, { timeout: '2s', statusOnError: '503' })] },
      }),
      { clock },
    );
    const pending = engine.decide(request({ url: '/httpbin1' }));
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    await clock.advance(1_999);
    await clock.advance(1);
    const d = await pending;
    expect(verdict(d)).toBe(503);
    expect(d.allow ? null : d.reason.detail).toMatch(/timed out after 2000ms/);
  });

  it('treats a 5xx from the server as a failure, not a denial: statusOnError, or open with failOpen', async () => {
    const { port } = await authzServer((_req, res) => {
      res.statusCode = 503;
      res.setHeader('x-deny-reason', 'overloaded');
      res.end('upstream connect error');
    });
    const closed = engineFor(
      planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port, { statusOnError: '401' })] } }),
    );
    const d = await closed.decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.body, d.headers['x-deny-reason'], d.flags]).toEqual([
      401,
      '',
      undefined,
      ['UAEX'],
    ]);
    const open = engineFor(
      planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port, { failOpen: true })] } }),
    );
    expect(verdict(await open.decide(request({ url: '/httpbin1' })))).toBe('allow');
  });

  it('fails closed when the server is unreachable, and open with failOpen', async () => {
    const { port } = await authzServer((_req, res) => res.end());
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const closed = engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port)] } }));
    const d = await closed.decide(request({ url: '/httpbin1' }));
    expect(verdict(d)).toBe(403);
    expect(d.allow ? null : d.flags).toEqual(['UAEX']);
    const open = engineFor(
      planOf(CUSTOM, { meshConfig: { extensionProviders: [provider(port, { failOpen: true })] } }),
    );
    expect(verdict(await open.decide(request({ url: '/httpbin1' })))).toBe('allow');
  });

  it('denies what a CUSTOM policy matches when its provider is missing, not ext_authz, or misconfigured', async () => {
    const missing = engineFor(planOf(CUSTOM));
    const withProvider = (type: string, config: Record<string, unknown>) =>
      engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [{ name: 'default', type, config }] } }));
    const zipkin = withProvider('zipkin', { service: 'zipkin.istio-system', port: 9411 });
    const badPort = withProvider('envoyExtAuthzGrpc', { service: 'x', port: 0 });
    const badStatus = withProvider('envoyExtAuthzHttp', { service: 'x', port: 80, statusOnError: '299' });
    for (const engine of [missing, zipkin, badPort, badStatus]) {
      const d = await engine.decide(request({ url: '/httpbin1' }));
      expect(d.allow ? null : [d.status, d.body, d.reason.stage]).toEqual([
        403,
        'RBAC: access denied',
        'custom',
      ]);
      expect(verdict(await engine.decide(request({ url: '/elsewhere' })))).toBe('allow');
    }
  });

  it('denies what every CUSTOM policy matches when the workload names two providers', async () => {
    // istio authz/builder builder.go: more than one provider without
    // PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS (default false) turns every CUSTOM policy
    // into a deny (testdata/http/custom-bad-multiple-providers-out1.yaml, -out2.yaml).
    const { port, seen } = await authzServer((_req, res) => res.end());
    const yaml = sample('authz/http/custom-bad-multiple-providers-in.yaml');
    const engine = engineFor(
      planOf(yaml, {
        meshConfig: { extensionProviders: [provider(port), { ...provider(port), name: 'another' }] },
      }),
    );
    const results = [
      await engine.decide(request({ url: '/httpbin1' })),
      await engine.decide(request({ url: '/httpbin2' })),
      await engine.decide(request({ url: '/elsewhere' })),
    ];
    expect(results.map(verdict)).toEqual([403, 403, 'allow']);
    expect(results.slice(0, 2).map((d) => (d.allow ? null : d.reason.responseCodeDetails))).toEqual([
      'rbac_access_denied_matched_policy[istio-ext-authz-default-ns[foo]-policy[httpbin-1]-rule[0]-deny-due-to-bad-CUSTOM-action]',
      'rbac_access_denied_matched_policy[istio-ext-authz-another-ns[foo]-policy[httpbin-2]-rule[0]-deny-due-to-bad-CUSTOM-action]',
    ]);
    expect(seen).toEqual([]);
  });
});
