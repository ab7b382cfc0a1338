import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import type { ManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator, JwtResult } from '../../../src/inbound/jwt/types.js';
import {
  bearer,
  DEMO_JWT,
  GROUPS_SCOPE_JWT,
  jwksOf,
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

let key: TestKey;
let other: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256', 'k-es');
  other = await makeKey('RS256', 'k-other');
});

let auth: JwtAuthenticator | null = null;
let clock: ManualClock;
afterEach(() => auth?.close());
function authenticator() {
  clock = createManualClock(NOW_MS);
  auth = createJwtAuthenticator({ clock });
  return auth;
}

function ok(result: JwtResult) {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result;
}

const sampleRule = (extra = '') =>
  `  - issuer: ${SAMPLE_ISSUER}\n    jwks: ${yamlString(SAMPLE_JWKS)}\n${extra}`;
const keyRule = (issuer: string, k: () => TestKey, extra = '') =>
  `  - issuer: ${issuer}\n    jwks: ${yamlString(jwksOf(k()))}\n${extra}`;

describe('token locations', () => {
  it('reads a custom header with its exact prefix and ignores the default locations', async () => {
    const rules = rulesFrom(
      requestAuthentication(sampleRule('    fromHeaders: [{ name: x-jwt-assertion, prefix: "Token " }]\n')),
    );
    const a = authenticator();
    expect(
      ok(await a.authenticate(rules, request({ headers: { 'x-jwt-assertion': `Token ${DEMO_JWT}` } })))
        .removeHeaders,
    ).toEqual(['x-jwt-assertion']);
    expect(
      await a.authenticate(rules, request({ headers: { 'x-jwt-assertion': `token ${DEMO_JWT}` } })),
    ).toEqual({ kind: 'none' });
    expect(await a.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).toEqual({ kind: 'none' });
  });

  it('reads a header without prefix as the whole value', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule('    fromHeaders: [{ name: X-Jwt }]\n')));
    const a = authenticator();
    expect(ok(await a.authenticate(rules, request({ headers: { 'x-jwt': DEMO_JWT } }))).principal).toBe(
      `${SAMPLE_ISSUER}/${SAMPLE_ISSUER}`,
    );
    expect(
      await a.authenticate(rules, request({ headers: { 'x-jwt': `Bearer ${DEMO_JWT}` } })),
    ).toMatchObject({
      kind: 'deny',
      // "Bearer eyJ..." is the header segment: the space is not base64url.
      body: 'Jwt header is an invalid Base64url encoded',
    });
  });

  it('reads a query parameter and leaves the header list alone', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule('    fromParams: [my_token]\n')));
    const r = ok(
      await authenticator().authenticate(rules, request({ url: `/headers?a=1&my_token=${DEMO_JWT}` })),
    );
    expect(r.removeHeaders).toEqual([]);
    expect(r.claims['foo']).toBe('bar');
  });

  it('reads the default access_token parameter when no location is configured', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule()));
    const r = ok(
      await authenticator().authenticate(rules, request({ url: `/headers?access_token=${DEMO_JWT}` })),
    );
    expect(r.principal).toBe(`${SAMPLE_ISSUER}/${SAMPLE_ISSUER}`);
  });

  it('reads a cookie, quoted or not, and leaves the cookie in place as Envoy does', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule('    fromCookies: [session]\n')));
    const a = authenticator();
    for (const cookie of [`a=1; session=${DEMO_JWT}`, `session="${DEMO_JWT}"`]) {
      const r = ok(await a.authenticate(rules, request({ headers: { cookie } })));
      expect(r.removeHeaders).toEqual([]);
    }
  });

  it('keeps the token header when forwardOriginalToken is true', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule('    forwardOriginalToken: true\n')));
    expect(
      ok(await authenticator().authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).removeHeaders,
    ).toEqual([]);
  });
});

describe('output headers', () => {
  it('puts the payload segment, unpadded base64url, in outputPayloadToHeader', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule('    outputPayloadToHeader: X-Jwt-Payload\n')));
    const r = ok(await authenticator().authenticate(rules, request({ headers: bearer(DEMO_JWT) })));
    const value = r.setHeaders['x-jwt-payload'] ?? '';
    expect(value).toBe(DEMO_JWT.split('.')[1]);
    expect(value).not.toMatch(/=/);
    expect(JSON.parse(Buffer.from(value, 'base64url').toString())).toEqual(r.claims);
  });

  it('strips a forged output header from a request with no token, and leaves clean requests alone', async () => {
    // envoy jwt_authn verifier.cc: sanitizeHeaders runs before the token is looked for.
    const rules = rulesFrom(requestAuthentication(sampleRule('    outputPayloadToHeader: X-Jwt-Payload\n')));
    const forged = await authenticator().authenticate(
      rules,
      request({ headers: { 'x-jwt-payload': 'eyJzdWIiOiJhZG1pbiJ9' } }),
    );
    expect(forged).toEqual({ kind: 'none', removeHeaders: ['x-jwt-payload'] });
    expect(await authenticator().authenticate(rules, request())).toEqual({ kind: 'none' });
  });

  it('copies string, integer, boolean, float, nested, list and object claims, and strips a forged header whose claim is absent', async () => {
    const rules = rulesFrom(
      requestAuthentication(
        keyRule(
          'issuer.example',
          () => key,
          `    outputClaimToHeaders:
    - { header: x-sub, claim: sub }
    - { header: x-level, claim: level }
    - { header: x-admin, claim: admin }
    - { header: x-ratio, claim: ratio }
    - { header: x-neg, claim: neg }
    - { header: x-team, claim: org.team }
    - { header: x-groups, claim: groups }
    - { header: x-org, claim: org }
    - { header: x-missing, claim: nope }
`,
        ),
      ),
    );
    const token = await sign(key, {
      iss: 'issuer.example',
      sub: 'alice',
      level: 3,
      admin: false,
      ratio: 1.5,
      neg: -2,
      org: { team: 'blue' },
      groups: ['a', 'b'],
    });
    const r = ok(
      await authenticator().authenticate(
        rules,
        request({ headers: { ...bearer(token), 'x-missing': 'forged', 'x-sub': 'forged' } }),
      ),
    );
    expect(r.setHeaders).toEqual({
      'x-sub': 'alice',
      'x-level': '3',
      'x-admin': 'false',
      'x-ratio': '1.500000',
      'x-neg': '-2.000000',
      'x-team': 'blue',
      // Lists and objects: their JSON, base64-encoded (envoy 1.29.0 changelog, jwt: "serialize
      // non-primitive custom claims ... as JSON and encoded as Base64", envoy PR #30377).
      'x-groups': Buffer.from('["a","b"]').toString('base64'),
      'x-org': Buffer.from('{"team":"blue"}').toString('base64'),
    });
    expect([...r.removeHeaders].sort()).toEqual(['authorization', 'x-missing']);
  });

  it('splits scope, permission and spaceDelimitedClaims into lists in the claims', async () => {
    const rules = rulesFrom(
      requestAuthentication(keyRule('issuer.example', () => key, '    spaceDelimitedClaims: [roles]\n')),
    );
    const token = await sign(key, {
      iss: 'issuer.example',
      sub: 'a',
      scope: 'read write',
      roles: 'x y',
      other: 'p q',
    });
    const r = ok(await authenticator().authenticate(rules, request({ headers: bearer(token) })));
    expect(r.claims).toMatchObject({ scope: ['read', 'write'], roles: ['x', 'y'], other: 'p q' });
    expect(Object.isFrozen(r)).toBe(true);
  });

  it('keeps list claims of the Istio groups-scope sample as lists', async () => {
    const rules = rulesFrom(requestAuthentication(sampleRule()));
    const r = ok(await authenticator().authenticate(rules, request({ headers: bearer(GROUPS_SCOPE_JWT) })));
    expect(r.claims).toMatchObject({ groups: ['group1', 'group2'], scope: ['scope1', 'scope2'] });
  });
});

describe('several rules', () => {
  const two = (first: string, second: string) => rulesFrom(requestAuthentication(`${first}${second}`));

  it('accepts a token that any one rule accepts', async () => {
    const rules = two(
      keyRule('a.example', () => other),
      keyRule('b.example', () => key),
    );
    const token = await sign(key, { iss: 'b.example', sub: 'bob' });
    expect(ok(await authenticator().authenticate(rules, request({ headers: bearer(token) }))).principal).toBe(
      'b.example/bob',
    );
  });

  // Istio generates OR(P1..Pn, AND(OR(P1, allow_missing)..OR(Pn, allow_missing)))
  // (pilot/pkg/security/authn/policy_applier.go convertToEnvoyJwtConfig). Envoy's
  // AnyVerifierImpl::onComplete (jwt_authn/verifier.cc) aggregates the failed children in order,
  // preferring any status other than JwtMissed and JwtUnknownIssuer, and among those the last one.
  it('reports a real error over "issuer is not configured", whichever rule comes first (verifier.cc)', async () => {
    const expired = await sign(key, { iss: 'b.example', sub: 'bob', exp: NOW - 3600 });
    const aFirst = two(
      keyRule('a.example', () => other),
      keyRule('b.example', () => key),
    );
    const bFirst = two(
      keyRule('b.example', () => key),
      keyRule('a.example', () => other),
    );
    const a = authenticator();
    for (const rules of [aFirst, bFirst]) {
      expect(await a.authenticate(rules, request({ headers: bearer(expired) }))).toMatchObject({
        status: 401,
        body: 'Jwt is expired',
      });
    }
  });

  it('answers 403 for a wrong audience and 401 for a bad signature behind an unknown-issuer rule', async () => {
    const rules = two(
      keyRule('a-issuer', () => other),
      keyRule('b-issuer', () => key, '    audiences: [svc-b]\n'),
    );
    const a = authenticator();
    const wrongAud = await sign(key, { iss: 'b-issuer', sub: 'u', aud: 'other' });
    expect(await a.authenticate(rules, request({ headers: bearer(wrongAud) }))).toMatchObject({
      status: 403,
      body: 'Audiences in Jwt are not allowed',
    });
    const forger = await makeKey('ES256', 'k-es');
    const badSig = await sign(forger, { iss: 'b-issuer', sub: 'u', aud: 'svc-b' });
    expect(await a.authenticate(rules, request({ headers: bearer(badSig) }))).toMatchObject({
      status: 401,
      body: 'Jwt verification fails',
    });
  });

  it('reports the first real error when the first reading rule fails for real, else the last (verifier.cc)', async () => {
    // Both b.example rules fail for real: audiences (b1), then signature (b2: another key, same kid).
    const sameKid = await makeKey('ES256', 'k-es');
    const b1 = keyRule('b.example', () => key, '    audiences: [one]\n');
    const b2 = keyRule('b.example', () => sameKid);
    const token = await sign(key, { iss: 'b.example', sub: 's', aud: 'two' });
    const a = authenticator();
    // The AND fails on b1 first, and comes last in the outer OR: b1's status wins.
    expect(await a.authenticate(two(b1, b2), request({ headers: bearer(token) }))).toMatchObject({
      body: 'Audiences in Jwt are not allowed',
    });
    // The AND fails on the unknown issuer of a.example: the last real error (b2) wins.
    const three = rulesFrom(requestAuthentication(`${keyRule('a.example', () => other)}${b1}${b2}`));
    expect(await a.authenticate(three, request({ headers: bearer(token) }))).toMatchObject({
      body: 'Jwt verification fails',
    });
  });

  it('accepts by the rule whose audiences match when two rules share an issuer', async () => {
    const rules = two(
      keyRule('a.example', () => key, '    audiences: [one]\n    outputPayloadToHeader: x-one\n'),
      keyRule('a.example', () => key, '    audiences: [two]\n    outputPayloadToHeader: x-two\n'),
    );
    const token = await sign(key, { iss: 'a.example', sub: 's', aud: 'two' });
    const r = ok(await authenticator().authenticate(rules, request({ headers: bearer(token) })));
    expect(Object.keys(r.setHeaders)).toEqual(['x-two']);
    expect(r.removeHeaders).toContain('x-one');
  });

  it('ignores a token in a location only another rule reads', async () => {
    const rules = two(
      keyRule('a.example', () => key, '    fromHeaders: [{ name: x-a }]\n'),
      keyRule('b.example', () => other, '    fromHeaders: [{ name: x-b }]\n'),
    );
    const token = await sign(key, { iss: 'a.example', sub: 's' });
    expect(await authenticator().authenticate(rules, request({ headers: { 'x-b': token } }))).toMatchObject({
      body: 'Jwt issuer is not configured',
    });
    expect(
      ok(await authenticator().authenticate(rules, request({ headers: { 'x-a': token } }))).principal,
    ).toBe('a.example/s');
  });

  it('fails closed with Envoy text when an inline JWKS has no usable key', async () => {
    const rules = rulesFrom(
      requestAuthentication(
        `  - issuer: a.example\n    jwks: ${yamlString('{"keys":[{"kty":"RSA","kid":"x"}]}')}\n`,
      ),
    );
    const token = await sign(key, { iss: 'a.example', sub: 's' });
    expect(await authenticator().authenticate(rules, request({ headers: bearer(token) }))).toMatchObject({
      status: 401,
      body: "Jwks doesn't have any valid public key",
    });
  });
});

describe('algorithms', () => {
  it.each(['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'])(
    'verifies %s with a key of its family',
    async (alg) => {
      const k = await makeKey(alg, `k-${alg}`);
      const rules = rulesFrom(requestAuthentication(keyRule('alg.example', () => k)));
      const token = await sign(k, { iss: 'alg.example', sub: alg });
      expect(
        ok(await authenticator().authenticate(rules, request({ headers: bearer(token) }))).principal,
      ).toBe(`alg.example/${alg}`);
    },
  );

  it('verifies HS256 with an inline symmetric key and refuses a wrong secret', async () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    const jwks = JSON.stringify({
      keys: [{ kty: 'oct', kid: 'hs', alg: 'HS256', k: secret.toString('base64url') }],
    });
    const rules = rulesFrom(requestAuthentication(`  - issuer: hs.example\n    jwks: ${yamlString(jwks)}\n`));
    const { SignJWT } = await import('jose');
    const good = await new SignJWT({ iss: 'hs.example', sub: 'h' })
      .setProtectedHeader({ alg: 'HS256', kid: 'hs' })
      .sign(secret);
    const bad = await new SignJWT({ iss: 'hs.example', sub: 'h' })
      .setProtectedHeader({ alg: 'HS256', kid: 'hs' })
      .sign(Buffer.from('another secret of 32 bytes......'));
    const a = authenticator();
    expect(ok(await a.authenticate(rules, request({ headers: bearer(good) }))).principal).toBe(
      'hs.example/h',
    );
    expect(await a.authenticate(rules, request({ headers: bearer(bad) }))).toMatchObject({
      body: 'Jwt verification fails',
    });
  });
});

describe('verification cache', () => {
  it('returns the cached result for a repeated token and still expires it on time', async () => {
    const rules = rulesFrom(requestAuthentication(keyRule('c.example', () => key)));
    const token = await sign(key, { iss: 'c.example', sub: 'c', exp: NOW + 120 });
    const a = authenticator();
    const first = await a.authenticate(rules, request({ headers: bearer(token) }));
    const second = await a.authenticate(rules, request({ headers: bearer(token) }));
    expect(second).toBe(first);
    await clock.advance(180_000);
    expect(await a.authenticate(rules, request({ headers: bearer(token) }))).toBe(first);
    await clock.advance(1_000);
    expect(await a.authenticate(rules, request({ headers: bearer(token) }))).toMatchObject({
      body: 'Jwt is expired',
    });
  });

  it('does not let a token cached for one plan pass a plan whose rule rejects it', async () => {
    const token = await sign(key, { iss: 'c.example', sub: 'c', aud: 'x' });
    const open = rulesFrom(requestAuthentication(keyRule('c.example', () => key)));
    const strict = rulesFrom(requestAuthentication(keyRule('c.example', () => key, '    audiences: [y]\n')));
    const a = authenticator();
    expect((await a.authenticate(open, request({ headers: bearer(token) }))).kind).toBe('ok');
    expect(await a.authenticate(strict, request({ headers: bearer(token) }))).toMatchObject({ status: 403 });
  });
});

describe('authenticateNow', () => {
  // One rules array, as a compiled plan holds it: the token cache is kept per compiled rule.
  const sampleRules = rulesFrom(requestAuthentication(sampleRule()));
  const rules = () => sampleRules;

  it('answers without a promise when there is no token, or the token cannot be parsed', () => {
    const a = authenticator();
    expect(a.authenticateNow!(rules(), request())).toEqual({ kind: 'none' });
    const bad = a.authenticateNow!(rules(), request({ headers: bearer('not-a-jwt') }));
    expect(bad).not.toBeInstanceOf(Promise);
    expect(bad).toMatchObject({
      kind: 'deny',
      status: 401,
      body: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
    });
  });

  it('verifies a new token asynchronously, then answers its cache hits synchronously with the same result', async () => {
    const a = authenticator();
    const first = a.authenticateNow!(rules(), request({ headers: bearer(DEMO_JWT) }));
    expect(first).toBeInstanceOf(Promise);
    const verified = ok(await first);
    const again = a.authenticateNow!(rules(), request({ headers: bearer(DEMO_JWT) }));
    expect(again).not.toBeInstanceOf(Promise);
    expect(ok(again as JwtResult)).toEqual(verified);
    expect(verified.principal).toBe(`${SAMPLE_ISSUER}/${SAMPLE_ISSUER}`);
  });

  it('still refuses a cached token once it has expired (exp plus the 60 s skew)', async () => {
    const a = authenticator();
    const token = await sign(key, { iss: 'https://exp.example', sub: 'u', exp: NOW + 10 });
    const r = rulesFrom(requestAuthentication(keyRule('https://exp.example', () => key)));
    ok(await a.authenticate(r, request({ headers: bearer(token) })));
    expect(ok(a.authenticateNow!(r, request({ headers: bearer(token) })) as JwtResult).principal).toBe(
      'https://exp.example/u',
    );
    await clock.advance(71_000);
    const late = a.authenticateNow!(r, request({ headers: bearer(token) }));
    expect(await late).toMatchObject({ kind: 'deny', status: 401, body: 'Jwt is expired' });
  });
});
