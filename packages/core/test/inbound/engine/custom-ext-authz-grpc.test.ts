import { status as grpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExtensionProvider } from '../../../src/config/mesh-config.js';
import type { InboundEngine } from '../../../src/inbound/engine-types.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import {
  istioSampleCheck,
  startExtAuthzGrpcServer,
  type CheckHandler,
  type ExtAuthzGrpcServer,
} from '../../helpers/ext-authz-grpc-server.js';
import {
  engineFor,
  fakeJwt,
  peer,
  planOf,
  request,
  REQUEST_AUTHENTICATION,
  sample,
  token,
  verdict,
} from './support.js';

const CUSTOM = sample('authz/http/custom-simple-http-in.yaml');

const servers: ExtAuthzGrpcServer[] = [];
const engines: InboundEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: CheckHandler): Promise<ExtAuthzGrpcServer> {
  const s = await startExtAuthzGrpcServer(handler);
  servers.push(s);
  return s;
}

/** The istio.io ext-authz task's gRPC provider, pointed at a loopback port. */
function provider(port: number, extra: Record<string, unknown> = {}): ExtensionProvider {
  return {
    name: 'default',
    type: 'envoyExtAuthzGrpc',
    config: { service: 'foo/127.0.0.1', port: String(port), ...extra },
  };
}

function engine(yaml: string, port: number, extra: Record<string, unknown> = {}, opts = {}): InboundEngine {
  const e = engineFor(planOf(yaml, { meshConfig: { extensionProviders: [provider(port, extra)] } }), opts);
  engines.push(e);
  return e;
}

describe('CUSTOM authorization (envoyExtAuthzGrpc)', () => {
  it("allows as Istio's sample server says, with its header on the request", async () => {
    const s = await serve(istioSampleCheck);
    const d = await engine(CUSTOM, s.port).decide(
      request({ url: '/httpbin1', headers: { 'x-ext-authz': 'allow' } }),
    );
    // The connection manager's x-forwarded-proto reaches the application with the check's header.
    expect(d.allow && d.setHeaders).toEqual({
      'x-forwarded-proto': 'http',
      'x-ext-authz-check-result': 'allowed',
    });
    expect(s.seen).toHaveLength(1);
  });

  it("denies with the server's status, body and headers, flag UAEX", async () => {
    const s = await serve(istioSampleCheck);
    const d = await engine(CUSTOM, s.port).decide(
      request({ url: '/httpbin2', headers: { 'x-ext-authz': 'deny' } }),
    );
    expect(d.allow).toBe(false);
    if (!d.allow) {
      expect(d.status).toBe(403);
      expect(d.body).toBe('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
      expect(d.headers['x-ext-authz-check-result']).toBe('denied');
      expect(d.flags).toEqual(['UAEX']);
      expect(d.reason).toMatchObject({ stage: 'custom', policy: 'foo/httpbin-2' });
      expect(d.reason.detail).toMatch(/gRPC status 7/);
    }
  });

  it('does not call the server for requests no CUSTOM rule matches', async () => {
    const s = await serve(istioSampleCheck);
    expect(verdict(await engine(CUSTOM, s.port).decide(request({ url: '/other' })))).toBe('allow');
    expect(s.seen).toHaveLength(0);
  });

  it('sends the AttributeContext Envoy sends: peers, method, normalized path, host, every header', async () => {
    const s = await serve(() => ({ status: { code: 0 } }));
    const before = Date.now();
    await engine(CUSTOM, s.port).decide(
      request({
        method: 'POST',
        url: '/x/../httpbin1?q=1',
        scheme: 'https',
        port: 8443,
        sni: 'outbound_.8000_._.httpbin.foo.svc.cluster.local',
        peer: peer('cluster.local/ns/sleep/sa/sleep'),
        sourceIp: '10.0.0.9',
        sourcePort: 51234,
        destinationIp: '10.0.0.1',
        headers: {
          host: 'httpbin.foo:8000',
          'x-ext-authz': 'allow',
          'x-multi': ['a', 'b'],
          'content-length': '11',
          authorization: 'Basic YWxpY2U6',
        },
      }),
    );
    const [seen] = s.seen;
    const a = seen!.attributes;
    expect(a.source).toMatchObject({
      address: { socket_address: { address: '10.0.0.9', port_value: 51234 } },
      principal: 'spiffe://cluster.local/ns/sleep/sa/sleep',
    });
    expect(a.destination).toMatchObject({
      address: { socket_address: { address: '10.0.0.1', port_value: 8443 } },
      principal: 'spiffe://cluster.local/ns/foo/sa/httpbin',
    });
    expect(a.request.http).toMatchObject({
      method: 'POST',
      path: '/httpbin1?q=1',
      host: 'httpbin.foo:8000',
      scheme: 'https',
      size: '11',
      protocol: 'HTTP/1.1',
      body: '',
    });
    expect(a.request.http.headers).toEqual({
      ':authority': 'httpbin.foo:8000',
      ':method': 'POST',
      ':path': '/httpbin1?q=1',
      ':scheme': 'https',
      'x-ext-authz': 'allow',
      'x-multi': 'a,b',
      'content-length': '11',
      authorization: 'Basic YWxpY2U6',
      // Set by the connection manager before the check (the mTLS connection's scheme).
      'x-forwarded-proto': 'https',
    });
    expect(a.request.http.id).toMatch(/^\d+$/);
    const seconds = Number(a.request.time?.seconds);
    expect(seconds * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(seconds * 1000).toBeLessThanOrEqual(Date.now());
    expect(a.tls_session?.sni).toBe('outbound_.8000_._.httpbin.foo.svc.cluster.local');
    // The channel's authority is the provider's host name, as Envoy's EnvoyGrpc sets it.
    expect(s.authorities[0]).toBe('127.0.0.1');
  });

  it('sends no principals on a plaintext connection and size -1 when the length is unknown', async () => {
    const s = await serve(() => ({ status: { code: 0 } }));
    await engine(CUSTOM, s.port).decide(request({ url: '/httpbin1' }));
    const a = s.seen[0]!.attributes;
    expect(a.source?.principal).toBe('');
    expect(a.destination?.principal).toBe('');
    expect(a.request.http.size).toBe('-1');
    expect(a.tls_session ?? null).toBeNull();
  });

  it('applies the OK response: header actions, removals, response headers and query edits', async () => {
    const s = await serve(() => ({
      status: { code: 0 },
      ok_response: {
        headers: [
          { header: { key: 'x-user', value: 'alice' } },
          { header: { key: 'x-tags', value: 'b' }, append: { value: true } },
          { header: { key: 'x-new', value: '1' }, append_action: 'ADD_IF_ABSENT' },
          { header: { key: 'x-kept', value: 'no' }, append_action: 'ADD_IF_ABSENT' },
          { header: { key: 'x-absent', value: 'no' }, append_action: 'OVERWRITE_IF_EXISTS' },
          { header: { key: 'x-kept2', value: 'yes' }, append_action: 'OVERWRITE_IF_EXISTS' },
          { header: { key: 'x-set', value: 'v' }, append: { value: false } },
        ],
        headers_to_remove: ['Authorization', 'host', ':path'],
        response_headers_to_add: [{ header: { key: 'x-authz-trace', value: 't1' } }],
        query_parameters_to_set: [{ key: 'tenant', value: 'a b' }],
        query_parameters_to_remove: ['secret'],
      },
    }));
    const d = await engine(CUSTOM, s.port).decide(
      request({
        url: '/httpbin1?secret=1&x=2',
        headers: { 'x-tags': 'a', 'x-kept': 'yes', 'x-kept2': 'old', authorization: 'Bearer t' },
      }),
    );
    expect(d.allow).toBe(true);
    if (d.allow) {
      expect(d.setHeaders).toEqual({
        'x-forwarded-proto': 'http',
        'x-user': 'alice',
        'x-tags': 'a,b',
        'x-new': '1',
        'x-kept2': 'yes',
        'x-set': 'v',
      });
      expect(d.removeHeaders).toEqual(['authorization']);
      expect(d.responseHeaders).toEqual({ 'x-authz-trace': 't1' });
      expect(d.url).toBe('/httpbin1?x=2&tenant=a+b');
    }
  });

  it('lets DENY policies see the headers the server set, as RBAC runs after ext_authz', async () => {
    const s = await serve(() => ({
      status: { code: 0 },
      ok_response: { headers: [{ header: { key: 'x-role', value: 'suspended' } }] },
    }));
    const yaml = `${CUSTOM}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-suspended, namespace: foo }
spec:
  action: DENY
  rules: [{ when: [{ key: "request.headers[x-role]", values: ["suspended"] }] }]`;
    const e = engine(yaml, s.port);
    const d = await e.decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.reason.stage, d.reason.policy]).toEqual([
      403,
      'deny',
      'foo/no-suspended',
    ]);
    // Without the CUSTOM check, the header is absent and the DENY does not match.
    expect(verdict(await e.decide(request({ url: '/elsewhere' })))).toBe('allow');
  });

  it('denies with 403 and no body for a non-OK status without denied_response; honours its status', async () => {
    let answer: ReturnType<CheckHandler> = { status: { code: grpcStatus.UNAUTHENTICATED } };
    const s = await serve(() => answer);
    const e = engine(CUSTOM, s.port);
    const d = await e.decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.body, d.flags]).toEqual([403, '', ['UAEX']]);
    answer = {
      status: { code: grpcStatus.UNAUTHENTICATED },
      denied_response: { status: { code: 401 }, body: 'who are you' },
    };
    const d2 = await e.decide(request({ url: '/httpbin1' }));
    expect(d2.allow ? null : [d2.status, d2.body]).toEqual([401, 'who are you']);
  });

  it('fails closed with statusOnError when the server does not answer in time (injected clock)', async () => {
    const s = await serve(() => 'hang');
    const clock = createManualClock();
    const e = engine(CUSTOM, s.port, { timeout: '2s', statusOnError: '503' }, { clock });
    const pending = e.decide(request({ url: '/httpbin1' }));
    while (s.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    await clock.advance(1_999);
    let settled = false;
    void pending.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    await clock.advance(1);
    const d = await pending;
    expect(d.allow ? null : [d.status, d.body, d.flags]).toEqual([503, '', ['UAEX']]);
    expect(d.allow ? null : d.reason.detail).toMatch(/timed out after 2000ms/);
  });

  it('fails closed on a gRPC error or an unreachable server, and open with failOpen', async () => {
    const s = await serve(() => ({ grpcError: grpcStatus.UNAVAILABLE }));
    const d = await engine(CUSTOM, s.port).decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.flags]).toEqual([403, ['UAEX']]);
    const open = await engine(CUSTOM, s.port, { failOpen: true }).decide(request({ url: '/httpbin1' }));
    expect(verdict(open)).toBe('allow');

    const gone = await serve(() => ({ status: { code: 0 } }));
    await gone.close();
    const unreachable = await engine(CUSTOM, gone.port).decide(request({ url: '/httpbin1' }));
    expect(unreachable.allow ? null : [unreachable.status, unreachable.flags]).toEqual([403, ['UAEX']]);
  });

  it('treats a header it cannot put on an HTTP/1.1 message as a failed check, never an allow', async () => {
    const s = await serve(() => ({
      status: { code: 0 },
      ok_response: { headers: [{ header: { key: 'x-bad', value: 'a\r\nx-injected: 1' } }] },
    }));
    const d = await engine(CUSTOM, s.port).decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.flags]).toEqual([403, ['UAEX']]);
    expect(d.allow ? null : d.reason.detail).toMatch(/invalid header "x-bad"/);
  });

  it('checks the request before jwt_authn: the token goes to the provider as sent', async () => {
    // istiod puts the CUSTOM filters before jwt_authn (listener_builder.go
    // buildHTTPConnectionManager; istio/istio#51173), so forwardOriginalToken: false has
    // not removed the token yet when ext_authz builds its CheckRequest.
    const s = await serve(() => ({ status: { code: 0 } }));
    const e = engine(
      `${REQUEST_AUTHENTICATION}${CUSTOM}`,
      s.port,
      {},
      {
        jwt: fakeJwt({ good: token({ iss: 'https://issuer.example', sub: 'alice' }) }),
      },
    );
    const d = await e.decide(request({ url: '/httpbin1', headers: { authorization: 'Bearer good' } }));
    expect(verdict(d)).toBe('allow');
    expect(s.seen[0]!.attributes.request.http.headers['authorization']).toBe('Bearer good');
    // ...and jwt_authn removes it afterwards, before the application sees the request.
    expect(d.allow ? d.removeHeaders : null).toContain('authorization');
  });
});
