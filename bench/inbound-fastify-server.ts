// One benchmark server per child process: `bare`, `adapter`, `authz` or `authz-jwt`.
// Prints `listening <port> <engine>` when ready.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { compilePlan, loadConfigText } from './inbound-fastify-core.js';
import type { InboundDecision, InboundRequest } from '../packages/core/src/inbound/engine-types.js';
import type { InboundHandle } from '../packages/core/src/inbound/handle.js';
import { normalizeTarget } from '../packages/core/src/inbound/normalize/normalize-path.js';
import { createManualClock, systemClock } from '../packages/core/src/runtime/clock.js';
import { seededRandom } from '../packages/core/src/runtime/random.js';
import { meshlet } from '../packages/fastify/src/index.js';

const mode = process.argv[2] ?? 'bare';
const INBOUND = path.resolve(import.meta.dirname, '../packages/core/src/inbound');

// Ten AuthorizationPolicies of the shapes the istio.io tasks use; the request under test
// passes every DENY and matches the last ALLOW (the most work a permitted request costs).
function policies(jwt: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < 5; i++) {
    out.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-${i}, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin-${i}", "/admin-${i}/*"], methods: ["GET", "POST"] } }]
    when: [{ key: "request.headers[x-token]", notValues: ["admin"] }]`);
    out.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-${i}, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - to: [{ operation: { paths: ["/svc-${i}/*"], methods: ["GET"] } }]
  - to: [{ operation: { paths: [${i === 4 ? '"/hello"' : `"/other-${i}"`}] } }]${jwt ? '\n    from: [{ source: { requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"] } }]' : ''}`);
  }
  if (jwt) {
    out.push(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '${process.env['MESHLET_BENCH_JWKS'] ?? ''}'`);
  }
  return out.join('\n---\n');
}

async function realHandle(jwt: boolean): Promise<InboundHandle | null> {
  if (!existsSync(path.join(INBOUND, 'engine.ts'))) return null;
  const workload = {
    name: 'httpbin',
    namespace: 'foo',
    serviceAccount: 'httpbin',
    labels: { app: 'httpbin' },
  };
  const plan = compilePlan(loadConfigText(policies(jwt)), workload);
  type Factory = (deps: Record<string, unknown>) => { decide(r: InboundRequest): Promise<InboundDecision> };
  const { createInboundEngine } = (await import(path.join(INBOUND, 'engine.ts'))) as {
    createInboundEngine: Factory;
  };
  let authenticator: unknown;
  if (jwt) {
    const jwtDir = path.join(INBOUND, 'jwt');
    const candidates = ['authenticator.ts', 'jwt-authenticator.ts', 'index.ts']
      .map((f) => path.join(jwtDir, f))
      .filter(existsSync);
    for (const file of candidates) {
      const mod = (await import(file)) as { createJwtAuthenticator?: (d: unknown) => unknown };
      if (mod.createJwtAuthenticator) authenticator = mod.createJwtAuthenticator({ clock: systemClock });
    }
    if (authenticator === undefined) return null;
  }
  const engine = createInboundEngine({
    getPlan: () => plan,
    jwt: authenticator,
    clock: createManualClock(Date.now()),
    random: seededRandom(1),
  });
  return { decide: (r) => engine.decide(r), peerOf: () => null };
}

/** While the engine is not written: the adapter's own cost (translation, pre-routing, hook) plus path normalization. */
const adapterOnly: InboundHandle = {
  peerOf: () => null,
  decide: (req) => {
    const t = normalizeTarget(req.url, 'BASE');
    if (!t.ok)
      return Promise.resolve({
        allow: false,
        status: 400,
        body: 'Bad Request',
        headers: {},
        flags: [],
        reason: { stage: 'normalize', policy: null, detail: t.detail },
      });
    return Promise.resolve({
      allow: true,
      url: t.path + t.query,
      context: { peer: null, auth: null },
      removeHeaders: [],
      setHeaders: {},
      responseHeaders: {},
      shadow: [],
    });
  },
};

const app = Fastify();
let engine = 'none';
if (mode !== 'bare') {
  const handle = mode === 'adapter' ? null : await realHandle(mode === 'authz-jwt');
  engine = handle === null ? 'adapter-only' : 'real';
  if (handle === null && mode === 'authz-jwt') {
    console.log('unavailable');
    process.exit(0);
  }
  await app.register(meshlet, { mesh: { inbound: handle ?? adapterOnly } });
}
app.get('/hello', () => ({ hello: 'world' }));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening ${(app.server.address() as { port: number }).port} ${engine}`);
