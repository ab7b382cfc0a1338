import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePlan } from '../../core/src/compile/compile-plan.js';
import { loadConfigText } from '../../core/src/config/load.js';
import { createInboundEngine } from '../../core/src/inbound/engine.js';
import type { InboundEngine } from '../../core/src/inbound/engine-types.js';
import { createJwtAuthenticator } from '../../core/src/inbound/jwt/authenticator.js';
import { systemClock } from '../../core/src/runtime/clock.js';
import { seededRandom } from '../../core/src/runtime/random.js';
import { meshlet } from '../src/index.js';

// A request with two good tokens for one RequestAuthentication rule whose output headers are
// the same for both: Envoy's jwt_authn adds a line per token (authenticator.cc handleGoodJwt /
// addJWTClaimToHeader use addCopy), the last token location's first, and the sidecar forwards
// both lines. The Fastify handler must read what it would read behind that sidecar: the two
// lines as Node's parser joins them. The reference is a plain Fastify server sent those lines.

const ISSUER = 'https://issuer.example';
const WORKLOAD = {
  name: 'httpbin-1',
  namespace: 'foo',
  serviceAccount: 'httpbin',
  labels: { app: 'httpbin' },
};
const READ = ['x-jwt-payload', 'x-sub', 'user-agent', 'x-a', 'x-b'] as const;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function listen(app: FastifyInstance): Promise<number> {
  app.get('/headers', (req) => Object.fromEntries(READ.map((h) => [h, req.headers[h] ?? null])));
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return (app.server.address() as { port: number }).port;
}

function get(port: number, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/headers', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** GET /headers with these header lines, exactly, on a raw socket (as a sidecar forwards them). */
function rawGet(port: number, lines: readonly (readonly [string, string])[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      const head = lines.map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`GET /headers HTTP/1.1\r\nhost: httpbin.foo:8000\r\nconnection: close\r\n${head}\r\n`);
    });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('end', () => resolve(text.slice(text.indexOf('\r\n\r\n') + 4)));
    s.on('error', reject);
  });
}

function engineFor(jwks: string): InboundEngine {
  const yaml = `apiVersion: security.istio.io/v1
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
`;
  const snap = loadConfigText(yaml);
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  const plan = compilePlan(snap, WORKLOAD);
  const engine = createInboundEngine({
    getPlan: () => plan,
    jwt: createJwtAuthenticator({ clock: systemClock }),
    clock: systemClock,
    random: seededRandom(1),
  });
  closers.push(() => engine.close());
  return engine;
}

describe('@meshlet/fastify: two good JWTs writing the same output headers', () => {
  it('gives the handler both values, joined as Node joins the lines Envoy forwards', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    const sign = (key: CryptoKey, sub: string) =>
      new SignJWT({ iss: ISSUER, sub }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(key);
    const alice = await sign(privateKey, 'alice');
    const bob = await sign(privateKey, 'bob');
    const payload = (t: string) => t.split('.')[1] ?? '';

    const engine = engineFor(jwks);
    const app = Fastify();
    await app.register(meshlet, {
      mesh: { inbound: { decide: (r) => engine.decide(r), peerOf: () => null } },
    });
    const res = await get(await listen(app), { 'x-a': alice, 'x-b': bob, 'user-agent': 'curl/8.5' });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as Record<string, string | null>;

    // What the app reads behind Envoy: x-b's token is verified first, so its lines come first;
    // the caller's User-Agent was stripped (an output header) and the tokens removed.
    const reference = JSON.parse(
      await rawGet(await listen(Fastify()), [
        ['x-jwt-payload', payload(bob)],
        ['x-sub', 'bob'],
        ['user-agent', 'bob'],
        ['x-jwt-payload', payload(alice)],
        ['x-sub', 'alice'],
        ['user-agent', 'alice'],
      ]),
    ) as Record<string, string | null>;
    expect(reference).toEqual({
      'x-jwt-payload': `${payload(bob)}, ${payload(alice)}`,
      'x-sub': 'bob, alice',
      'user-agent': 'bob',
      'x-a': null,
      'x-b': null,
    });
    expect(seen).toEqual(reference);
  });
});
