import * as grpc from '@grpc/grpc-js';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  istioSampleCheck,
  istioSampleCustomPolicy,
  startExtAuthzGrpcServer,
  type ExtAuthzGrpcServer,
} from '../../packages/core/test/helpers/ext-authz-grpc-server.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet } from '../../packages/fastify/src/index.js';

// A gRPC ext_authz provider is called through its service's outbound cluster, as the
// sidecar's EnvoyGrpc client does (pilot/pkg/security/authz/builder/extauthz.go
// LookupCluster): the cluster's DestinationRule outlier detection ejects a replica whose
// checks fail, and its connection pool caps the checks in flight. A check is an HTTP/2
// stream, so `http2MaxRequests` bounds it and `maxConnections` does not.
// Real gRPC servers on loopback (@grpc/grpc-js) behind a real Fastify service.

const config = (destinationRule: string) => `${istioConfigMap(`
extensionProviders:
- name: ext-authz-grpc
  envoyExtAuthzGrpc:
    service: ext-authz-grpc.foo.svc.cluster.local
    port: "9000"
    timeout: 1s`)}apiVersion: v1
kind: Service
metadata: { name: ext-authz-grpc, namespace: foo }
spec: { selector: { app: ext-authz }, ports: [{ name: grpc, port: 9000 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ext-authz-grpc, namespace: foo }
spec:
  host: ext-authz-grpc.foo.svc.cluster.local
  trafficPolicy:
    tls: { mode: DISABLE }
    loadBalancer: { simple: ROUND_ROBIN }
${destinationRule}
---
${istioSampleCustomPolicy('ext-authz-grpc')}`;

const tmp = useTmpDir();
/** Answers as Istio's sample server; holds a check whose request says `x-ext-authz: hang`. */
let good: ExtAuthzGrpcServer;
/** A replica that fails every check with UNAVAILABLE. */
let failing: ExtAuthzGrpcServer;

beforeAll(async () => {
  good = await startExtAuthzGrpcServer((req) =>
    req.attributes.request.http.headers['x-ext-authz'] === 'hang' ? 'hang' : istioSampleCheck(req),
  );
  failing = await startExtAuthzGrpcServer(() => ({ grpcError: grpc.status.UNAVAILABLE }));
});
afterAll(async () => {
  await good.close();
  await failing.close();
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function httpbin(destinationRule: string, replicas: ExtAuthzGrpcServer[]): Promise<string> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config(destinationRule));
  const mesh: Mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    endpoints: {
      'ext-authz-grpc.foo.svc.cluster.local': replicas.map((r) => ({
        address: '127.0.0.1',
        port: r.port,
        labels: { app: 'ext-authz' },
      })),
    },
  });
  closers.push(() => mesh.close());
  const app = Fastify();
  await app.register(meshlet, { mesh });
  app.get('/headers', () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

const get = (base: string, verdict: string) =>
  fetch(`${base}/headers`, { headers: { 'x-ext-authz': verdict } });

/** Resolves once `server` has received `n` checks in all. */
async function received(server: ExtAuthzGrpcServer, n: number): Promise<void> {
  const until = Date.now() + 5_000;
  while (server.seen.length < n) {
    if (Date.now() > until) throw new Error(`the provider saw ${server.seen.length} checks, not ${n}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("a gRPC ext_authz provider's cluster policy", () => {
  it('ejects a replica whose checks fail UNAVAILABLE after consecutive5xxErrors, so later checks reach the healthy one', async () => {
    const base = await httpbin(
      '    outlierDetection: { consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 5m, maxEjectionPercent: 100 }',
      [good, failing],
    );
    const failingBefore = failing.seen.length;
    const goodBefore = good.seen.length;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(base, 'allow')).status);
    // UNAVAILABLE maps to 503 (Envoy grpcToHttpStatus): one failed check ejects the replica.
    // Without outlier detection round robin would send it every other check.
    expect(failing.seen.length - failingBefore).toBe(1);
    expect(good.seen.length - goodBefore).toBe(5);
    // That one check failed, so its request got statusOnError (403 by default).
    expect(statuses.filter((s) => s === 403)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
  });

  it('caps the checks in flight with http2MaxRequests, not maxConnections, and frees a place when a check ends', async () => {
    const base = await httpbin(
      '    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 2 } }',
      [good],
    );
    const before = good.seen.length;
    const first = get(base, 'hang');
    await received(good, before + 1);
    // A second check runs beside the held one on the same connection.
    expect((await get(base, 'allow')).status).toBe(200);
    const second = get(base, 'hang');
    await received(good, before + 3);
    // Two checks in flight: the pool refuses the third at once (503 UO), and a check
    // that fails is statusOnError, never an allow.
    const started = Date.now();
    expect((await get(base, 'allow')).status).toBe(403);
    expect(Date.now() - started).toBeLessThan(900);
    expect(good.seen.length).toBe(before + 3);
    // The held checks time out (the provider's 1s): their places are given back.
    expect((await first).status).toBe(403);
    expect((await second).status).toBe(403);
    expect((await get(base, 'allow')).status).toBe(200);
    expect(good.seen.length).toBe(before + 4);
  });
});
