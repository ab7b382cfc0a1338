import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import type { ManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { MeshletError } from '../../../src/errors/meshlet-error.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import {
  bearer,
  DEMO_JWT,
  makeKey,
  request,
  rulesFrom,
  sample,
  SAMPLE_ISSUER,
  SAMPLE_JWKS,
  sign,
} from './helpers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A JWKS server on loopback whose behaviour each test sets; counts requests. */
async function jwksServer(initial: Handler) {
  let handler = initial;
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  servers.push(server);
  return {
    url,
    hits: () => hits,
    set: (h: Handler) => {
      handler = h;
    },
  };
}

const serve =
  (body: string, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };

const servers: http.Server[] = [];
let auth: JwtAuthenticator | null = null;
afterEach(async () => {
  auth?.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** The istio.io authz-jwt task's RequestAuthentication, its jwksUri pointed at the loopback server. */
function sampleRules(jwksUri: string, timeout?: string) {
  const yaml = sample('tasks/authz-jwt/01-requestauthentication-jwt-example.yaml').replace(
    /jwksUri: ".*"/,
    `jwksUri: "${jwksUri}"${timeout === undefined ? '' : `\n    timeout: ${timeout}`}`,
  );
  return rulesFrom(yaml);
}

let clock: ManualClock;
const errors: MeshletError[] = [];
function authenticator() {
  clock = createManualClock(Date.UTC(2025, 0, 1));
  errors.length = 0;
  auth = createJwtAuthenticator({ clock, onJwksError: (e) => errors.push(e) });
  return auth;
}

/**
 * A fetch that fails fails every token on the key istiod inlines instead (PublicOnlyJwks:
 * one RSA key, no kid, no alg, private key discarded).
 */
const FETCH_FAILED = 'Jwt verification fails';

describe('remote JWKS (jwksUri)', () => {
  it('fetches the keys once and verifies the Istio sample token with them', async () => {
    const srv = await jwksServer(serve(SAMPLE_JWKS));
    const rules = sampleRules(srv.url);
    const a = authenticator();
    for (let i = 0; i < 3; i++) {
      const r = await a.authenticate(rules, request({ headers: bearer(DEMO_JWT) }));
      expect(r.kind === 'ok' && r.principal).toBe(`${SAMPLE_ISSUER}/${SAMPLE_ISSUER}`);
    }
    expect(srv.hits()).toBe(1);
  });

  it('shares one fetch among concurrent requests', async () => {
    const srv = await jwksServer((_req, res) => setTimeout(() => serve(SAMPLE_JWKS)(_req, res), 50));
    const rules = sampleRules(srv.url);
    const a = authenticator();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => a.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))),
    );
    expect(results.every((r) => r.kind === 'ok')).toBe(true);
    expect(srv.hits()).toBe(1);
  });

  it('fails closed on HTTP 500 and reports it', async () => {
    // The background retries and when they come: jwks-retry-schedule.test.ts.
    const srv = await jwksServer(serve('oops', 500));
    const rules = sampleRules(srv.url);
    const a = authenticator();
    expect(await a.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).toMatchObject({
      status: 401,
      body: FETCH_FAILED,
    });
    expect(errors.map((e) => e.code)).toEqual(['MESHLET_ERR_JWT_JWKS_FETCH']);
    expect(errors[0]?.message).toMatch(/HTTP 500/);
    expect(srv.hits()).toBe(1);
  });

  it('fails an EC-signed token on the RSA key istiod inlines when the fetch failed', async () => {
    // jwt_verify_lib verifyJwtWithoutTimeChecking (envoy source/common/jwt/verify.cc) sets
    // kid_alg_matched before looking at kty: the inlined key has neither kid nor alg, so it
    // matches every token, and an ES256 token on an RSA key ends in JwtVerificationFail.
    const srv = await jwksServer(serve('oops', 500));
    const ec = await makeKey('ES256', 'ec-1');
    const token = await sign(ec, { iss: SAMPLE_ISSUER, sub: 'u', exp: 4685989700 });
    expect(
      await authenticator().authenticate(sampleRules(srv.url), request({ headers: bearer(token) })),
    ).toMatchObject({ status: 401, body: FETCH_FAILED });
  });

  it('gives up on a server that never answers exactly at the rule timeout', async () => {
    const srv = await jwksServer(() => undefined);
    const rules = sampleRules(srv.url, '2s');
    const a = authenticator();
    let settled: unknown = null;
    const pending = a.authenticate(rules, request({ headers: bearer(DEMO_JWT) })).then((r) => (settled = r));
    await new Promise((r) => setTimeout(r, 50));
    await clock.advance(1_999);
    expect(settled).toBeNull();
    await clock.advance(1);
    await pending;
    expect(settled).toMatchObject({ kind: 'deny', status: 401, body: FETCH_FAILED });
    expect(errors[0]?.message).toMatch(/timed out after 2000 ms/);
  });

  it('uses 5 s when the rule sets no timeout', async () => {
    const srv = await jwksServer(() => undefined);
    const rules = sampleRules(srv.url);
    const a = authenticator();
    let settled = false;
    const pending = a
      .authenticate(rules, request({ headers: bearer(DEMO_JWT) }))
      .then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    await clock.advance(4_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    await pending;
    expect(settled).toBe(true);
  });

  it.each([
    ['a body that is not JSON', serve('<html>not json</html>'), FETCH_FAILED],
    // istiod's first fetch keeps only a JSON object with a "keys" array (jwks_resolver.go
    // validateJWKSFormat), and inlines PublicOnlyJwks for anything else.
    ['JSON of the wrong shape', serve('{"keys": 5}'), FETCH_FAILED],
    ['JSON without "keys"', serve('{"pub": []}'), FETCH_FAILED],
    ['an empty key list', serve('{"keys": []}'), "Jwks doesn't have any valid public key"],
    [
      'keys with no usable member',
      serve('{"keys":[{"kty":"RSA"},{"kty":"XX"}]}'),
      "Jwks doesn't have any valid public key",
    ],
    [
      'a body over the size cap',
      serve(JSON.stringify({ keys: [], pad: 'x'.repeat(600 * 1024) })),
      FETCH_FAILED,
    ],
    [
      'a chunked body over the size cap',
      ((_req, res) => {
        res.writeHead(200);
        for (let i = 0; i < 700; i++) res.write('x'.repeat(1024));
        res.end();
      }) satisfies Handler,
      FETCH_FAILED,
    ],
  ])('refuses every token of the issuer when the JWKS endpoint returns %s', async (_name, handler, body) => {
    const srv = await jwksServer(handler);
    const rules = sampleRules(srv.url);
    const r = await authenticator().authenticate(rules, request({ headers: bearer(DEMO_JWT) }));
    expect(r).toMatchObject({ kind: 'deny', status: 401, body });
    expect(errors).toHaveLength(1);
  });

  it('keeps the last good keys when a refresh fails, and refreshes after 20 minutes', async () => {
    const srv = await jwksServer(serve(SAMPLE_JWKS));
    const rules = sampleRules(srv.url);
    const a = authenticator();
    expect((await a.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).kind).toBe('ok');
    srv.set(serve('down', 503));
    await clock.advance(19 * 60_000);
    expect((await a.authenticate(rules, request({ url: '/a', headers: bearer(DEMO_JWT) }))).kind).toBe('ok');
    expect(srv.hits()).toBe(1);
    await clock.advance(60_000);
    // A different token so the verification cache does not answer.
    const r = await a.authenticate(
      rules,
      request({ headers: { authorization: `Bearer ${sample('jwt/groups-scope.jwt').trim()}` } }),
    );
    expect(r.kind).toBe('ok');
    expect(srv.hits()).toBe(2);
    expect(errors).toHaveLength(1);
  });

  it('never fetches once closed', async () => {
    const srv = await jwksServer(serve(SAMPLE_JWKS));
    const rules = sampleRules(srv.url);
    const a = authenticator();
    a.close();
    expect((await a.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).kind).toBe('deny');
    expect(srv.hits()).toBe(0);
  });
});
