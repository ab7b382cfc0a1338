import { beforeAll, describe, expect, it } from 'vitest';
import type { JwtResult } from '../../../src/inbound/jwt/types.js';
import {
  bearer,
  jwksOf,
  makeKey,
  request,
  requestAuthentication,
  rulesFrom,
  sign,
  yamlString,
} from './helpers.js';
import type { TestKey } from './helpers.js';
import { NOW_MS, useAuthenticator } from './use-authenticator.js';

// One provider's authenticator verifies every token its locations hold, last extracted first,
// and stops at the first failure (envoy jwt_authn/authenticator.cc `startVerify` /
// `doneWithStatus`): several good tokens pass, one bad token fails the request.
const NOW = NOW_MS / 1000;

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});

const authenticator = useAuthenticator();

const rules = () =>
  rulesFrom(requestAuthentication(`  - issuer: a.example\n    jwks: ${yamlString(jwksOf(key))}\n`));

function ok(r: JwtResult) {
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}

describe('a token in the Authorization header and one in access_token', () => {
  it('passes when both verify, with the header token as principal, and removes both', async () => {
    const h = await sign(key, { iss: 'a.example', sub: 'from-header' });
    const q = await sign(key, { iss: 'a.example', sub: 'from-query' });
    const r = ok(
      await authenticator().authenticate(
        rules(),
        request({ url: `/p?access_token=${q}`, headers: bearer(h) }),
      ),
    );
    expect(r.principal).toBe('a.example/from-header');
    expect(r.removeHeaders).toContain('authorization');
    expect(r.removeParams).toEqual(['access_token']);
  });

  it('fails with the status of the query token, checked first, when both are bad', async () => {
    const expired = await sign(key, { iss: 'a.example', sub: 'h', exp: NOW - 3600 });
    const early = await sign(key, { iss: 'a.example', sub: 'q', nbf: NOW + 3600 });
    const r = await authenticator().authenticate(
      rules(),
      request({ url: `/p?access_token=${early}`, headers: bearer(expired) }),
    );
    expect(r).toMatchObject({ kind: 'deny', status: 401, body: 'Jwt not yet valid' });
  });

  it('fails when the header token is bad though the query token verifies', async () => {
    const good = await sign(key, { iss: 'a.example', sub: 'q' });
    const expired = await sign(key, { iss: 'a.example', sub: 'h', exp: NOW - 3600 });
    const r = await authenticator().authenticate(
      rules(),
      request({ url: `/p?access_token=${good}`, headers: bearer(expired) }),
    );
    expect(r).toMatchObject({ kind: 'deny', status: 401, body: 'Jwt is expired' });
  });
});
