import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OidcProvider from 'oidc-provider';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import type { ManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { bearer, makeKey, request, requestAuthentication, rulesFrom } from './helpers.js';

const AUDIENCE = 'https://httpbin.foo';

/** The part of oidc-provider (which ships no types) this test uses. */
interface Provider {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
}
const ProviderCtor = OidcProvider as new (issuer: string, config: object) => Provider;

/** A real OpenID provider on loopback; `rotate` swaps in a provider publishing only a new key. */
let issuer: string;
let server: http.Server;
let provider: Provider;
let jwksHits = 0;

async function newProvider(kid: string): Promise<Provider> {
  const key = await makeKey('RS256', kid);
  const { exportJWK } = await import('jose');
  const privateJwk = { ...(await exportJWK(key.privateKey)), kid, alg: 'RS256', use: 'sig' };
  return new ProviderCtor(issuer, {
    clients: [
      {
        client_id: 'sleep',
        client_secret: 'sleep-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    jwks: { keys: [privateJwk] },
    // Longer than the 20 virtual minutes the rotation test moves forward.
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
}

/** An access token from the provider's token endpoint (client_credentials, RFC 9068 JWT). */
async function accessToken(): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('sleep:sleep-secret').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=read',
  });
  const body = (await res.json()) as { access_token?: string };
  if (typeof body.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(body)}`);
  return body.access_token;
}

beforeAll(async () => {
  // oidc-provider warns about the Node version and its development adapter on the console.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  vi.spyOn(console, 'info').mockImplementation(() => undefined);
  server = http.createServer((req, res) => {
    if (req.url === '/jwks') jwksHits++;
    void provider.callback()(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider = await newProvider('k1');
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  vi.restoreAllMocks();
});

let auth: JwtAuthenticator | null = null;
let clock: ManualClock;
afterEach(() => auth?.close());
function authenticator() {
  // The provider stamps iat/exp from the real clock; the virtual clock starts there.
  clock = createManualClock(Date.now());
  auth = createJwtAuthenticator({ clock });
  return auth;
}

describe('RequestAuthentication against a real OpenID provider', () => {
  it('finds the keys by OIDC discovery when only the issuer is given', async () => {
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: "${issuer}"\n    audiences: ["${AUDIENCE}"]\n`),
    );
    const r = await authenticator().authenticate(rules, request({ headers: bearer(await accessToken()) }));
    expect(r.kind).toBe('ok');
    if (r.kind === 'ok') {
      expect(r.principal).toBe(`${issuer}/sleep`);
      expect(r.claims).toMatchObject({ client_id: 'sleep', scope: ['read'], aud: AUDIENCE });
      expect(r.removeHeaders).toEqual(['authorization']);
    }
  });

  it('uses the jwksUri when it is given, and refuses a token for another audience with 403', async () => {
    const rules = rulesFrom(
      requestAuthentication(
        `  - issuer: "${issuer}"\n    jwksUri: "${issuer}/jwks"\n    audiences: [other]\n`,
      ),
    );
    const r = await authenticator().authenticate(rules, request({ headers: bearer(await accessToken()) }));
    expect(r).toMatchObject({ kind: 'deny', status: 403, body: 'Audiences in Jwt are not allowed' });
  });

  it('picks up a rotated signing key at the next refresh, 20 minutes on', async () => {
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: "${issuer}"\n    jwksUri: "${issuer}/jwks"\n`),
    );
    const a = authenticator();
    expect((await a.authenticate(rules, request({ headers: bearer(await accessToken()) }))).kind).toBe('ok');
    const before = jwksHits;
    provider = await newProvider('k2');
    const rotated = await accessToken();
    expect(await a.authenticate(rules, request({ headers: bearer(rotated) }))).toMatchObject({
      status: 401,
      body: "Jwks doesn't have key to match kid or alg from Jwt",
    });
    expect(jwksHits).toBe(before);
    await clock.advance(20 * 60_000);
    const r = await a.authenticate(rules, request({ headers: bearer(rotated) }));
    expect(r.kind === 'ok' && r.principal).toBe(`${issuer}/sleep`);
    expect(jwksHits).toBe(before + 1);
  });
});
