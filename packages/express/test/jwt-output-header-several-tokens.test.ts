import express from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePlan } from '../../core/src/compile/compile-plan.js';
import { loadConfigText } from '../../core/src/config/load.js';
import { createInboundEngine } from '../../core/src/inbound/engine.js';
import { createJwtAuthenticator } from '../../core/src/inbound/jwt/authenticator.js';
import { systemClock } from '../../core/src/runtime/clock.js';
import { seededRandom } from '../../core/src/runtime/random.js';
import { meshlet } from '../src/index.js';

// Two good tokens for one RequestAuthentication rule: Envoy's jwt_authn adds each token's
// output headers as more lines (authenticator.cc handleGoodJwt / addJWTClaimToHeader: addCopy),
// the last token location's first. An Express handler reads them as Node's parser joins
// repeated lines: `, ` for most names, the first line only for User-Agent and the like.

const ISSUER = 'https://issuer.example';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

describe('@meshlet/express: two good JWTs writing the same output headers', () => {
  it('gives the handler both values, joined as Node joins repeated lines', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    const sign = (sub: string) =>
      new SignJWT({ iss: ISSUER, sub }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    const [alice, bob] = [await sign('alice'), await sign('bob')];
    const payload = (t: string) => t.split('.')[1] ?? '';

    const snap = loadConfigText(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: ${ISSUER}
    jwks: ${JSON.stringify(jwks)}
    fromHeaders: [{ name: x-a }, { name: x-b }]
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - { header: x-sub, claim: sub }
    - { header: user-agent, claim: sub }
`);
    expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);
    const plan = compilePlan(snap, {
      name: 'httpbin-1',
      namespace: 'foo',
      serviceAccount: 'httpbin',
      labels: { app: 'httpbin' },
    });
    const engine = createInboundEngine({
      getPlan: () => plan,
      jwt: createJwtAuthenticator({ clock: systemClock }),
      clock: systemClock,
      random: seededRandom(1),
    });
    closers.push(() => engine.close());

    const app = express();
    app.use(meshlet({ mesh: { inbound: { decide: (r) => engine.decide(r), peerOf: () => null } } }));
    app.get('/headers', (req, res) => {
      res.json({
        payload: req.headers['x-jwt-payload'],
        sub: req.headers['x-sub'],
        ua: req.headers['user-agent'],
        tokens: [req.headers['x-a'] ?? null, req.headers['x-b'] ?? null],
      });
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    closers.push(() => new Promise((r) => server.close(r)));

    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/headers`, {
      headers: { 'x-a': alice, 'x-b': bob, 'user-agent': 'curl/8.5' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      payload: `${payload(bob)}, ${payload(alice)}`,
      sub: 'bob, alice',
      ua: 'bob',
      tokens: [null, null],
    });
  });
});
