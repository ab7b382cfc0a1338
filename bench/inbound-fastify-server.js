// One benchmark server per child process: `bare`, `authz` (authz + Istio metrics) or
// `authz-jwt` (+ RequestAuthentication with a cached token). Uses the built packages,
// exactly as an application would. Prints `listening <port>` when ready.
// MESHLET_BENCH_VARIANT=server-only|plugin-only isolates the mesh server (mTLS sniffing,
// PeerAuthentication) from the plugin (decision, telemetry) when profiling; SIGINT exits
// cleanly so `node --cpu-prof` writes its profile.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { createMesh } from '@meshlet/core';
import { meshlet } from '@meshlet/fastify';

const mode = process.argv[2] ?? 'bare';
process.on('SIGINT', () => process.exit(0));

// Ten AuthorizationPolicies of the shapes the istio.io tasks use; the request under test
// passes every DENY and matches the last ALLOW (the most work a permitted request costs).
function policies(jwt) {
  const out = [];
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
  - to: [{ operation: { paths: [${i === 4 ? '"/hello"' : `"/other-${i}"`}] } }]${
    jwt
      ? '\n    from: [{ source: { requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"] } }]'
      : ''
  }`);
  }
  if (jwt) {
    out.push(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '${process.env.MESHLET_BENCH_JWKS ?? ''}'`);
  }
  return out.join('\n---\n');
}

let app;
if (mode === 'bare') {
  app = Fastify();
} else if (mode === 'bare-onsend') {
  // The same hook doing nothing: the baseline of `bare-headers`.
  app = Fastify();
  app.addHook('onSend', (_req, _reply, payload, done) => done(null, payload));
} else if (mode === 'bare-headers') {
  // Bare Fastify sending the three headers Istio's sidecar adds to a response the app
  // answered (x-envoy-upstream-service-time, x-envoy-decorator-operation, server).
  app = Fastify();
  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('x-envoy-upstream-service-time', String(Math.round(performance.now() % 3)));
    reply.header('x-envoy-decorator-operation', 'httpbin.foo.svc.cluster.local:80/*');
    reply.header('server', 'istio-envoy');
    done(null, payload);
  });
} else if (mode === 'floor-hook' || mode === 'floor-als') {
  // What any Fastify plugin that decides before routing pays: one no-op onRequest hook;
  // with floor-als, the hook also runs the request in an AsyncLocalStorage context, the
  // minimum cost of letting a handler's outbound calls continue its trace with no code.
  app = Fastify();
  const als = new AsyncLocalStorage();
  app.addHook(
    'onRequest',
    mode === 'floor-als' ? (_req, _reply, done) => als.run({}, done) : (_req, _reply, done) => done(),
  );
} else {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshlet-bench-'));
  writeFileSync(path.join(dir, 'policies.yaml'), policies(mode === 'authz-jwt'));
  // MESHLET_BENCH_EXTRA_YAML: more config for experiments (a Telemetry resource, ...).
  if (process.env.MESHLET_BENCH_EXTRA_YAML)
    writeFileSync(path.join(dir, 'extra.yaml'), process.env.MESHLET_BENCH_EXTRA_YAML);
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    // Metrics on (what a sidecar always does); traces sampled out, no access log: Istio's defaults.
    // MESHLET_BENCH_CONTEXT=off: telemetry without the async-local request context.
    telemetry:
      process.env.MESHLET_BENCH_TELEMETRY === 'off'
        ? false
        : { otlp: false, requestContext: process.env.MESHLET_BENCH_CONTEXT !== 'off' },
  });
  const variant = process.env.MESHLET_BENCH_VARIANT ?? 'full';
  app = variant === 'plugin-only' ? Fastify() : Fastify({ serverFactory: mesh.serverFactory });
  if (variant !== 'server-only') await app.register(meshlet, { mesh });
}
app.get('/hello', () => ({ hello: 'world' }));
// MESHLET_BENCH_ROUTES=service gives the app the few more routes any real service has.
// It matters for the baseline: on Node 20, bare Fastify with one route is ~5 us per request
// faster than with two (V8 keeps one of node's hot object literals on a fast path only
// while Fastify's request path stays monomorphic; see docs/benchmarks.md).
if (process.env.MESHLET_BENCH_ROUTES === 'service') {
  app.get('/healthz', () => 'ok');
  app.get('/items/:id', (req) => ({ id: req.params.id }));
  app.post('/items', (req) => ({ created: req.body }));
}
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening ${app.server.address().port}`);
