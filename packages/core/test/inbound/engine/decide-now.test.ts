import { describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import { decideThen, type InboundHandle } from '../../../src/inbound/handle.js';
import { engineFor, fakeJwt, planOf, request, REQUEST_AUTHENTICATION, token, verdict } from './support.js';

const DENY_ADMIN = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]
`;

describe('InboundEngine.decideNow', () => {
  it('returns the decision itself, equal to what decide resolves to, when no stage waits', async () => {
    const engine = engineFor(planOf(DENY_ADMIN));
    for (const url of ['/ok', '/admin', '//admin', '/a/../admin?x=1']) {
      const now = engineFor(planOf(DENY_ADMIN)).decideNow(request({ url }));
      expect(now).not.toBeInstanceOf(Promise);
      expect(now).toEqual(await engine.decide(request({ url })));
    }
    expect(verdict(engine.decideNow(request({ url: '/admin' })) as InboundDecision)).toBe(403);
  });

  it('returns a promise when a RequestAuthentication must check a token', async () => {
    const jwt = fakeJwt({ t: token({ iss: 'https://issuer.example', sub: 'u' }) });
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION), { jwt });
    const pending = engine.decideNow(request({ headers: { authorization: 'Bearer t' } }));
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toMatchObject({
      allow: true,
      context: { auth: { principal: 'https://issuer.example/u' } },
    });
  });

  it('turns an internal failure into a 500 deny, synchronously, never an allow', () => {
    const engine = engineFor(planOf(DENY_ADMIN));
    const broken = Object.defineProperty(request(), 'url', {
      get() {
        throw new Error('boom');
      },
    });
    const d = engine.decideNow(broken) as InboundDecision;
    expect(d).toMatchObject({ allow: false, status: 500, reason: { detail: 'internal error: boom' } });
  });
});

describe('decideThen', () => {
  const allow = engineFor(planOf(DENY_ADMIN));
  const handleOf = (h: Partial<InboundHandle>): InboundHandle => ({
    decide: (req) => allow.decide(req),
    peerOf: () => null,
    ...h,
  });

  it('calls back before returning when the handle decides now', () => {
    const seen: (string | number)[] = [];
    decideThen(
      handleOf({ decideNow: (req) => allow.decideNow(req) }),
      request({ url: '/admin' }),
      (d) => seen.push(verdict(d)),
      () => seen.push('error'),
    );
    seen.push('returned');
    expect(seen).toEqual([403, 'returned']);
  });

  it('waits for decide when the handle has no decideNow', async () => {
    const seen: (string | number)[] = [];
    const done = new Promise<void>((resolve) =>
      decideThen(
        handleOf({}),
        request({ url: '/ok' }),
        (d) => {
          seen.push(verdict(d));
          resolve();
        },
        () => seen.push('error'),
      ),
    );
    seen.push('returned');
    await done;
    expect(seen).toEqual(['returned', 'allow']);
  });

  it('reports a throwing or rejecting handle to onError, never as a decision', async () => {
    const errors: unknown[] = [];
    const decisions: unknown[] = [];
    decideThen(
      handleOf({
        decideNow: () => {
          throw new Error('sync boom');
        },
      }),
      request(),
      (d) => decisions.push(d),
      (e) => errors.push(e),
    );
    await new Promise<void>((resolve) =>
      decideThen(
        handleOf({ decide: () => Promise.reject(new Error('async boom')) }),
        request(),
        (d) => decisions.push(d),
        (e) => {
          errors.push(e);
          resolve();
        },
      ),
    );
    expect(decisions).toEqual([]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync boom', 'async boom']);
  });
});
