import { createPublicKey } from 'node:crypto';
import { createHmac } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import {
  b64url,
  bearer,
  DEMO_JWT,
  makeKey,
  request,
  requestAuthentication,
  rulesFrom,
  SAMPLE_ISSUER,
  SAMPLE_JWKS,
  sign,
  yamlString,
} from './helpers.js';
import type { TestKey } from './helpers.js';

const NOW_MS = Date.UTC(2025, 0, 1);
const NOW = NOW_MS / 1000;
const SAMPLE_KEY = (JSON.parse(SAMPLE_JWKS) as { keys: [{ kid: string; n: string; e: string }] }).keys[0];
const REALM = 'Bearer realm="http://httpbin.foo:8000/headers", error="invalid_token"';
const BAD_FORMAT = 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections';

let key: TestKey;
let jwks: string;
beforeAll(async () => {
  key = await makeKey('RS256', 'test-key');
  // The Istio sample key plus one whose private half the test holds, in one inline JWKS.
  const sampleKeys = (JSON.parse(SAMPLE_JWKS) as { keys: unknown[] }).keys;
  jwks = JSON.stringify({ keys: [...sampleKeys, key.publicJwk] });
});

let auth: JwtAuthenticator | null = null;
afterEach(() => auth?.close());

function authenticator() {
  auth = createJwtAuthenticator({ clock: createManualClock(NOW_MS) });
  return auth;
}

function rules(extra = '') {
  return rulesFrom(
    requestAuthentication(`  - issuer: ${SAMPLE_ISSUER}\n    jwks: ${yamlString(jwks)}\n${extra}`),
  );
}

/** HS256 over the sample RSA public key's PEM text, the classic algorithm-confusion forgery. */
function hsWithPublicKey(kid: string | null): string {
  const pem = createPublicKey({ key: { kty: 'RSA', n: SAMPLE_KEY.n, e: SAMPLE_KEY.e }, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const head = b64url({ alg: 'HS256', typ: 'JWT', ...(kid === null ? {} : { kid }) });
  const body = b64url({ iss: SAMPLE_ISSUER, sub: 'admin', exp: NOW + 3600 });
  const sig = createHmac('sha256', pem).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

type Case = [
  name: string,
  headers: () => Record<string, string> | Promise<Record<string, string>>,
  url: string,
  expected: Expected,
];
type Expected =
  | { kind: 'none' }
  | { kind: 'ok'; principal: string | null }
  | { kind: 'deny'; status: 401 | 403; body: string };

const cases: Case[] = [
  [
    'the sample demo.jwt',
    () => bearer(DEMO_JWT) as Record<string, string>,
    '/headers',
    { kind: 'ok', principal: `${SAMPLE_ISSUER}/${SAMPLE_ISSUER}` },
  ],
  [
    'alg none with an empty signature',
    () => ({
      authorization: `Bearer ${b64url({ alg: 'none' })}.${b64url({ iss: SAMPLE_ISSUER, sub: 'admin' })}.`,
    }),
    '/headers',
    { kind: 'deny', status: 401, body: BAD_FORMAT },
  ],
  [
    'alg none with a signature',
    () => ({
      authorization: `Bearer ${b64url({ alg: 'none' })}.${b64url({ iss: SAMPLE_ISSUER, sub: 'admin' })}.c2ln`,
    }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt header [alg] is not supported' },
  ],
  [
    'HS256 signed with the RSA public key, kid of that key',
    () => ({ authorization: `Bearer ${hsWithPublicKey(SAMPLE_KEY.kid)}` }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt verification fails' },
  ],
  [
    'HS256 signed with the RSA public key, no kid',
    () => ({ authorization: `Bearer ${hsWithPublicKey(null)}` }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt verification fails' },
  ],
  [
    'an unknown issuer',
    async () =>
      bearer(await sign(key, { iss: 'attacker@evil.example', sub: 'admin' })) as Record<string, string>,
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt issuer is not configured' },
  ],
  [
    'no sub',
    async () => bearer(await sign(key, { iss: SAMPLE_ISSUER })) as Record<string, string>,
    '/headers',
    { kind: 'ok', principal: null },
  ],
  [
    'exp 59 s in the past (inside the 60 s skew)',
    async () =>
      bearer(await sign(key, { iss: SAMPLE_ISSUER, sub: 'u', exp: NOW - 59 })) as Record<string, string>,
    '/headers',
    { kind: 'ok', principal: `${SAMPLE_ISSUER}/u` },
  ],
  [
    'exp 61 s in the past',
    async () =>
      bearer(await sign(key, { iss: SAMPLE_ISSUER, sub: 'u', exp: NOW - 61 })) as Record<string, string>,
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt is expired' },
  ],
  [
    'nbf 61 s in the future',
    async () =>
      bearer(await sign(key, { iss: SAMPLE_ISSUER, sub: 'u', nbf: NOW + 61 })) as Record<string, string>,
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt not yet valid' },
  ],
  [
    'nbf 59 s in the future',
    async () =>
      bearer(await sign(key, { iss: SAMPLE_ISSUER, sub: 'u', nbf: NOW + 59 })) as Record<string, string>,
    '/headers',
    { kind: 'ok', principal: `${SAMPLE_ISSUER}/u` },
  ],
  [
    'a token in the header and in access_token at once',
    () => bearer(DEMO_JWT) as Record<string, string>,
    `/headers?access_token=${DEMO_JWT}`,
    // Envoy verifies every token a rule finds (jwt_authn authenticator.cc): both are good.
    { kind: 'ok', principal: `${SAMPLE_ISSUER}/testing@secure.istio.io` },
  ],
  ['Bearer without the space', () => ({ authorization: `Bearer${DEMO_JWT}` }), '/headers', { kind: 'none' }],
  ['lower-case bearer', () => ({ authorization: `bearer ${DEMO_JWT}` }), '/headers', { kind: 'none' }],
  [
    'a tampered payload on a real signature',
    () => {
      const [h, , s] = DEMO_JWT.split('.');
      return {
        authorization: `Bearer ${h}.${b64url({ iss: SAMPLE_ISSUER, sub: 'admin', exp: 4685989700 })}.${s}`,
      };
    },
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt verification fails' },
  ],
  [
    'a kid no key has',
    async () =>
      bearer(await sign(key, { iss: SAMPLE_ISSUER, sub: 'u' }, { kid: 'rotated-away' })) as Record<
        string,
        string
      >,
    '/headers',
    { kind: 'deny', status: 401, body: "Jwks doesn't have key to match kid or alg from Jwt" },
  ],
  [
    'not a JWT at all',
    () => ({ authorization: 'Bearer abc' }),
    '/headers',
    { kind: 'deny', status: 401, body: BAD_FORMAT },
  ],
  [
    'a header that is not JSON',
    () => ({ authorization: `Bearer ${b64url('not json')}.${b64url({})}.c2ln` }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt header is an invalid JSON' },
  ],
  [
    'junk in the payload base64',
    // Base64url characters only (Envoy's extractor ends a token at any other), five of them:
    // no base64 decodes a length of 1 mod 4.
    () => ({ authorization: `Bearer ${b64url({ alg: 'RS256' })}.e30ab.c2ln` }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt payload is an invalid Base64url encoded' },
  ],
  [
    'an exp that is a string',
    () => ({
      authorization: `Bearer ${b64url({ alg: 'RS256' })}.${b64url({ iss: SAMPLE_ISSUER, exp: 'soon' })}.c2ln`,
    }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt payload [exp] field is not an integer' },
  ],
  [
    'a token of 40 KiB',
    () => ({ authorization: `Bearer ${'a'.repeat(40 * 1024)}.b.c` }),
    '/headers',
    { kind: 'deny', status: 401, body: 'Jwt verification fails' },
  ],
  ['no token at all', () => ({}), '/headers', { kind: 'none' }],
  [
    'a token in a header no rule reads',
    () => ({ 'x-jwt-assertion': DEMO_JWT }),
    '/headers',
    { kind: 'none' },
  ],
];

describe('createJwtAuthenticator against the JWT attack inputs of security.md §4', () => {
  it.each(cases)('decides %s as Istio does', async (_name, headers, url, expected) => {
    const result = await authenticator().authenticate(rules(), request({ url, headers: await headers() }));
    if (expected.kind === 'deny') {
      // The realm is the request URI as received, query included (Envoy `buildOriginalUri`).
      const realm = `Bearer realm="http://httpbin.foo:8000${url.slice(0, 256)}", error="invalid_token"`;
      expect(result).toEqual({
        kind: 'deny',
        status: expected.status,
        body: expected.body,
        headers: { 'www-authenticate': realm },
      });
    } else if (expected.kind === 'ok') {
      expect(result.kind).toBe('ok');
      if (result.kind === 'ok') {
        expect(result.principal).toBe(expected.principal);
        expect(result.issuer).toBe(SAMPLE_ISSUER);
      }
    } else {
      expect(result).toEqual({ kind: 'none' });
    }
  });

  it('answers 403 with the audience text when the token is for another audience', async () => {
    const token = await sign(key, { iss: SAMPLE_ISSUER, sub: 'u', aud: 'other.example' });
    const result = await authenticator().authenticate(
      rules('    audiences: ["httpbin.foo"]\n'),
      request({ headers: bearer(token) }),
    );
    expect(result).toEqual({
      kind: 'deny',
      status: 403,
      body: 'Audiences in Jwt are not allowed',
      headers: { 'www-authenticate': REALM },
    });
  });

  it('accepts an audience written with a scheme and trailing slash, as jwt_verify_lib sanitizes both', async () => {
    const token = await sign(key, { iss: SAMPLE_ISSUER, sub: 'u', aud: ['x', 'httpbin.foo'] });
    const result = await authenticator().authenticate(
      rules('    audiences: ["https://httpbin.foo/"]\n'),
      request({ headers: bearer(token) }),
    );
    expect(result.kind).toBe('ok');
  });

  it('builds the realm from scheme, host and the path without its fragment, cut at 256 characters', async () => {
    const long = `/${'p'.repeat(300)}?q=1#frag`;
    const result = await authenticator().authenticate(
      rules(),
      request({
        scheme: 'https',
        authority: 'api.example.com',
        url: long,
        headers: { authorization: 'Bearer abc' },
      }),
    );
    expect(result.kind === 'deny' && result.headers['www-authenticate']).toBe(
      `Bearer realm="https://api.example.com${long.slice(0, 256)}", error="invalid_token"`,
    );
  });

  it('lets a CORS preflight through without looking at its token', async () => {
    const result = await authenticator().authenticate(
      rules(),
      request({
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'POST',
          authorization: 'Bearer abc',
        },
      }),
    );
    expect(result).toEqual({ kind: 'none' });
  });

  it('checks an OPTIONS request without Origin like any other', async () => {
    const result = await authenticator().authenticate(
      rules(),
      request({
        method: 'OPTIONS',
        headers: { 'access-control-request-method': 'POST', authorization: 'Bearer abc' },
      }),
    );
    expect(result.kind).toBe('deny');
  });
});
