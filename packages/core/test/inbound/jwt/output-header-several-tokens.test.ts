import { beforeAll, describe, expect, it } from 'vitest';
import type { JwtResult } from '../../../src/inbound/jwt/types.js';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';
import { useAuthenticator } from './use-authenticator.js';

// Envoy's jwt_authn adds every output header with `addCopy` (authenticator.cc `handleGoodJwt`
// for forward_payload_header, `addJWTClaimToHeader` for claim_to_headers): each good token,
// and each entry naming the same header, adds one more header line; nothing is overwritten.
// The provider verifies its tokens last extracted first, so the last location's lines come
// first. The application (behind an HTTP/1.1 sidecar) gets the lines as Node's parser joins
// them: `, ` for most names, `; ` for Cookie, the first line only for the names Node keeps
// once (User-Agent, Authorization, Content-Type, ...).

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});

const authenticator = useAuthenticator();

function ok(r: JwtResult) {
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}

const payloadOf = (token: string): string => token.split('.')[1] ?? '';

describe('outputPayloadToHeader / outputClaimToHeaders with several good tokens', () => {
  const rules = () =>
    rulesFrom(
      requestAuthentication(`  - issuer: a.example
    jwks: ${yamlString(jwksOf(key))}
    fromHeaders: [{ name: x-a }, { name: x-b }]
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - { header: x-sub, claim: sub }
    - { header: user-agent, claim: sub }
`),
    );

  it('keeps one line per token, last location first, joined as Node joins repeats', async () => {
    const a = await sign(key, { iss: 'a.example', sub: 'alice' });
    const b = await sign(key, { iss: 'a.example', sub: 'bob' });
    const r = ok(
      await authenticator().authenticate(
        rules(),
        request({ headers: { 'x-a': a, 'x-b': b, 'user-agent': 'curl/8', 'x-sub': 'forged' } }),
      ),
    );
    expect(r.setHeaders).toEqual({
      'x-jwt-payload': `${payloadOf(b)}, ${payloadOf(a)}`,
      'x-sub': 'bob, alice',
      // Node keeps the first User-Agent line and drops the rest.
      'user-agent': 'bob',
    });
    // The last token verified (x-a's) is the request's.
    expect(r.principal).toBe('a.example/alice');
    expect([...r.removeHeaders].sort()).toEqual(['x-a', 'x-b']);
  });

  it('is the same when the second verification comes from the token cache', async () => {
    const auth = authenticator();
    const a = await sign(key, { iss: 'a.example', sub: 'alice' });
    const b = await sign(key, { iss: 'a.example', sub: 'bob' });
    const req = request({ headers: { 'x-a': a, 'x-b': b } });
    const first = ok(await auth.authenticate(rules(), req));
    const second = ok(await auth.authenticate(rules(), req));
    expect(second.setHeaders).toEqual(first.setHeaders);
    expect(second.setHeaders['x-sub']).toBe('bob, alice');
  });
});

describe('one token, several entries naming the same header', () => {
  it('adds the payload line, then each claim line, in order', async () => {
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: a.example
    jwks: ${yamlString(jwksOf(key))}
    outputPayloadToHeader: x-jwt
    outputClaimToHeaders:
    - { header: x-jwt, claim: sub }
    - { header: x-who, claim: sub }
    - { header: x-who, claim: iss }
    - { header: cookie, claim: sub }
    - { header: cookie, claim: iss }
`),
    );
    const t = await sign(key, { iss: 'a.example', sub: 'alice' });
    const r = ok(
      await authenticator().authenticate(rules, request({ headers: { authorization: `Bearer ${t}` } })),
    );
    expect(r.setHeaders).toEqual({
      'x-jwt': `${payloadOf(t)}, alice`,
      'x-who': 'alice, a.example',
      cookie: 'alice; a.example',
    });
  });
});
