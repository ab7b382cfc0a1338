import { describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import type { JwtAuthenticator, JwtResult } from '../../../src/inbound/jwt/types.js';
import {
  engineFor,
  fakeJwt,
  peer,
  planOf,
  request,
  REQUEST_AUTHENTICATION,
  token,
  verdict,
} from './support.js';

const AUDIT_AND_ALLOW = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: audit-all, namespace: foo }
spec:
  action: AUDIT
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-reader, namespace: foo }
spec:
  rules:
  - to: [{ operation: { paths: ["/items/*"] } }]
    when: [{ key: "request.auth.claims[role]", values: ["reader"] }]
`;

describe('createInboundEngine', () => {
  it('allows with the normalized url, the peer and token identity, and the JWT header changes', async () => {
    const jwt = fakeJwt({
      reader: {
        ...token({ iss: 'https://issuer.example', sub: 'u1', role: 'reader' }),
        setHeaders: { 'x-sub': 'u1' },
      },
    });
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION + AUDIT_AND_ALLOW), { jwt });
    const d = await engine.decide(
      request({
        url: '/items/../items/%61?page=2#frag',
        headers: { authorization: 'Bearer reader' },
        peer: peer('cluster.local/ns/web/sa/frontend'),
      }),
    );
    expect(d).toMatchObject({
      allow: true,
      url: '/items/a?page=2',
      context: {
        peer: { principal: 'cluster.local/ns/web/sa/frontend', namespace: 'web' },
        auth: { principal: 'https://issuer.example/u1', claims: { role: 'reader' } },
      },
      removeHeaders: ['authorization'],
      setHeaders: { 'x-sub': 'u1' },
      shadow: [{ policy: 'foo/audit-all', action: 'AUDIT', result: 'audit' }],
    });
    // The context the application sees cannot be changed by it.
    expect(d.allow && Object.isFrozen(d.context)).toBe(true);
  });

  it('shares one frozen context between requests without a peer or token, and makes one per peer', async () => {
    const engine = engineFor(planOf(''));
    const contexts = [];
    for (const r of [
      request({ url: '/a' }),
      request({ url: '/b' }),
      request({ url: '/a', peer: peer('cluster.local/ns/web/sa/frontend') }),
      request({ url: '/a', peer: peer('cluster.local/ns/web/sa/backend') }),
    ]) {
      const d = await engine.decide(r);
      if (!d.allow) throw new Error(`expected an allow, got ${d.status}`);
      contexts.push(d.context);
    }
    expect(contexts[0]).toEqual({ peer: null, auth: null });
    expect(contexts[1]).toBe(contexts[0]);
    expect(Object.isFrozen(contexts[0])).toBe(true);
    expect(contexts[2]!.peer!.principal).toBe('cluster.local/ns/web/sa/frontend');
    expect(contexts[3]!.peer!.principal).toBe('cluster.local/ns/web/sa/backend');
    expect(Object.isFrozen(contexts[2])).toBe(true);
  });

  it('denies with 403 RBAC: access denied when no ALLOW matches', async () => {
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION + AUDIT_AND_ALLOW));
    const d = await engine.decide(request({ url: '/items/a' }));
    expect(d).toMatchObject({
      allow: false,
      status: 403,
      body: 'RBAC: access denied',
      reason: { stage: 'allow', policy: null },
    });
  });

  it('passes a JWT refusal through and never reaches authorization', async () => {
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION + AUDIT_AND_ALLOW));
    const d = await engine.decide(request({ url: '/items/a', headers: { authorization: 'Bearer garbage' } }));
    expect(d).toMatchObject({
      allow: false,
      status: 401,
      body: 'Jwt verification fails',
      headers: { 'www-authenticate': expect.stringContaining('invalid_token') as unknown },
      reason: { stage: 'jwt' },
    });
  });

  it('does not ask the JWT authenticator when no RequestAuthentication applies', async () => {
    const jwt = fakeJwt();
    const engine = engineFor(planOf(AUDIT_AND_ALLOW), { jwt });
    await engine.decide(request({ headers: { authorization: 'Bearer x' } }));
    expect(jwt.calls).toBe(0);
  });

  it('shows authorization the headers as the app will get them (token removed, claims added)', async () => {
    const yaml = `${REQUEST_AUTHENTICATION}
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: d, namespace: foo }
spec:
  action: DENY
  rules:
  - when: [{ key: "request.headers[authorization]", values: ["*"] }]
  - when: [{ key: "request.headers[x-tenant]", values: ["blocked"] }]
`;
    const jwt = fakeJwt({
      ok: token({ iss: 'https://issuer.example', sub: 'a' }),
      blocked: {
        ...token({ iss: 'https://issuer.example', sub: 'b' }),
        setHeaders: { 'x-tenant': 'blocked' },
      },
    });
    const engine = engineFor(planOf(yaml), { jwt });
    const got = await Promise.all(
      ['ok', 'blocked'].map((t) => engine.decide(request({ headers: { authorization: `Bearer ${t}` } }))),
    );
    expect(got.map(verdict)).toEqual(['allow', 403]);
  });

  it('applies a new plan to the next request', async () => {
    let plan = planOf(AUDIT_AND_ALLOW);
    const engine = engineFor(plan, { getPlan: () => plan });
    expect(verdict(await engine.decide(request({ url: '/other' })))).toBe(403);
    plan = planOf('apiVersion: v1\nkind: Namespace\nmetadata: { name: foo }\n');
    expect(verdict(await engine.decide(request({ url: '/other' })))).toBe('allow');
  });

  it('turns an internal failure into a 500 deny naming the stage, never an allow', async () => {
    const throwing: JwtAuthenticator = {
      authenticate: () => Promise.reject(new Error('boom')),
      close() {},
    };
    const plan = planOf(REQUEST_AUTHENTICATION);
    const seen: InboundDecision[] = [];
    const engine = engineFor(plan, {
      jwt: throwing,
      onDecision: (d) => {
        seen.push(d);
        throw new Error('listener failure is swallowed');
      },
    });
    const d = await engine.decide(request());
    expect(d).toMatchObject({
      allow: false,
      status: 500,
      reason: { stage: 'jwt', detail: 'internal error: boom' },
    });
    expect(seen).toEqual([d]);
    const broken = engineFor(plan, {
      getPlan: () => {
        throw new Error('no plan');
      },
    });
    expect(await broken.decide(request())).toMatchObject({
      allow: false,
      status: 500,
      reason: { stage: 'normalize' },
    });
  });

  it('refuses %00 and a lower-case method with 400 before rate limiting or JWT', async () => {
    const jwt = fakeJwt();
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION), { jwt });
    const got = await Promise.all([
      engine.decide(request({ url: '/a%00b' })),
      engine.decide(request({ method: 'post' })),
    ]);
    // %00: Envoy's path normalization refuses it in the connection manager, before routing.
    expect(
      got.map((d) => (d.allow ? 'allow' : [d.status, d.reason.stage, d.reason.responseCodeDetails])),
    ).toEqual([
      [400, 'connection', 'path_normalization_failed'],
      [400, 'normalize', undefined],
    ]);
    expect(jwt.calls).toBe(0);
  });

  it('answers a path that does not start with / with 404 absolute_path, as the connection manager does', async () => {
    const d = await engineFor(planOf('')).decide(request({ url: 'foo/bar' }));
    expect(d.allow ? 'allow' : [d.status, d.body, d.reason.stage, d.reason.responseCodeDetails]).toEqual([
      404,
      '',
      'connection',
      'absolute_path',
    ]);
  });

  it('keeps the query out of matching but hands it to the app', async () => {
    const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p, namespace: foo }
spec:
  rules: [{ to: [{ operation: { paths: ["/exact"] } }] }]
`;
    const engine = engineFor(planOf(yaml), { jwt: fakeJwt() });
    const d = await engine.decide(request({ url: '/exact?/admin' }));
    expect(d.allow ? d.url : d.status).toBe('/exact?/admin');
  });

  it('resolves without timers on close', async () => {
    const jwt: JwtAuthenticator & { closed: boolean } = {
      closed: false,
      authenticate: (): Promise<JwtResult> => Promise.resolve({ kind: 'none' }),
      close() {
        this.closed = true;
      },
    };
    const engine = engineFor(planOf(AUDIT_AND_ALLOW), { jwt });
    await expect(engine.close()).resolves.toBeUndefined();
    // The authenticator belongs to the caller.
    expect(jwt.closed).toBe(false);
  });
});
