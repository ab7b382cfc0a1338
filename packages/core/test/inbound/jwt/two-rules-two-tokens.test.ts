import { beforeAll, describe, expect, it } from 'vitest';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';
import { NOW_MS, useAuthenticator } from './use-authenticator.js';

// Istio sorts the jwtRules by issuer (pilot/pkg/security/authn/policy_applier.go
// newPolicyApplier) and requires OR(P1..Pn, AND(OR(Pi, allow_missing)...)); each Pi only sees
// the tokens in its own locations (jwt_authn verifier.cc ProviderVerifierImpl).
const NOW = NOW_MS / 1000;

let ka: TestKey;
let kb: TestKey;
beforeAll(async () => {
  ka = await makeKey('ES256', 'ka');
  kb = await makeKey('ES256', 'kb');
});

const authenticator = useAuthenticator();

/** Declared b first: the order Istio evaluates them in is a, then b. */
const rules = () =>
  rulesFrom(
    requestAuthentication(
      `  - issuer: b.example\n    jwks: ${yamlString(jwksOf(kb))}\n    fromHeaders: [{ name: x-b }]\n` +
        `  - issuer: a.example\n    jwks: ${yamlString(jwksOf(ka))}\n    fromHeaders: [{ name: x-a }]\n`,
    ),
  );

describe('two rules reading different headers, a token in each', () => {
  it('passes on the first rule by issuer and takes its principal', async () => {
    const a = await sign(ka, { iss: 'a.example', sub: 'alice' });
    const b = await sign(kb, { iss: 'b.example', sub: 'bob' });
    const r = await authenticator().authenticate(rules(), request({ headers: { 'x-a': a, 'x-b': b } }));
    expect(r).toMatchObject({ kind: 'ok', principal: 'a.example/alice' });
  });

  it('passes when one of the two tokens verifies and the other does not', async () => {
    const expiredA = await sign(ka, { iss: 'a.example', sub: 'alice', exp: NOW - 3600 });
    const b = await sign(kb, { iss: 'b.example', sub: 'bob' });
    const r = await authenticator().authenticate(
      rules(),
      request({ headers: { 'x-a': expiredA, 'x-b': b } }),
    );
    expect(r).toMatchObject({ kind: 'ok', principal: 'b.example/bob' });
  });

  it('reports the first rule by issuer when both fail', async () => {
    const expiredA = await sign(ka, { iss: 'a.example', sub: 'alice', exp: NOW - 3600 });
    const earlyB = await sign(kb, { iss: 'b.example', sub: 'bob', nbf: NOW + 3600 });
    const r = await authenticator().authenticate(
      rules(),
      request({ headers: { 'x-a': expiredA, 'x-b': earlyB } }),
    );
    expect(r).toMatchObject({ kind: 'deny', status: 401, body: 'Jwt is expired' });
  });
});

describe('two rules reading the default locations, a token of each issuer', () => {
  // Each verifier extracts again from the request as earlier ones left it: a token verified and
  // not forwarded is gone from its header or parameter (authenticator.cc `handleGoodJwt`,
  // extractor.cc `removeJwt`), so in the AND, b's provider finds nothing and passes as missing.
  it('passes with the principal of the header token', async () => {
    const rules = rulesFrom(
      requestAuthentication(
        `  - issuer: a.example\n    jwks: ${yamlString(jwksOf(ka))}\n` +
          `  - issuer: b.example\n    jwks: ${yamlString(jwksOf(kb))}\n`,
      ),
    );
    const a = await sign(ka, { iss: 'a.example', sub: 'alice' });
    const b = await sign(kb, { iss: 'b.example', sub: 'bob' });
    const r = await authenticator().authenticate(
      rules,
      request({ url: `/p?access_token=${b}`, headers: { authorization: `Bearer ${a}` } }),
    );
    expect(r).toMatchObject({ kind: 'ok', principal: 'a.example/alice', removeParams: ['access_token'] });
    expect(r.kind === 'ok' && r.removeHeaders).toContain('authorization');
  });
});
