import express from 'express';
import Fastify from 'fastify';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  startRateLimitServer,
  type RateLimitGrpcServer,
} from '../../packages/core/test/helpers/rate-limit-grpc-server.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { meshlet } from '../../packages/fastify/src/index.js';

// Envoy's global rate limit filter (envoy.filters.http.ratelimit) as istio.io's "Enabling
// Rate Limits using Envoy" task configures it: the filter before the router, calling the
// rate limit service through its Istio cluster, and the inbound virtual host's rate_limits
// sending the request path as the `PATH` descriptor. A real gRPC rate limit service on
// loopback (envoyproxy/ratelimit's configuration semantics, its counters on a test clock)
// behind a real Fastify service.

const SAMPLE = path.resolve(
  import.meta.dirname,
  '../../../shared/istio-samples/bookinfo-policy/productpage_envoy_ratelimit.yaml',
);

// The task's service configuration: /productpage once a minute, any other path 100 times.
const RATELIMIT_CONFIG = `domain: ratelimit
descriptors:
  - key: PATH
    value: "/productpage"
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: PATH
    rate_limit: { unit: minute, requests_per_unit: 100 }
`;

const filter = (opts: { failureModeDeny?: boolean; cluster?: string; extra?: string } = {}) => `apiVersion: v1
kind: Service
metadata: { name: ratelimit, namespace: default }
spec: { selector: { app: ratelimit }, ports: [{ name: grpc, port: 8081 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratelimit, namespace: default }
spec: { host: ratelimit.default.svc.cluster.local, trafficPolicy: { tls: { mode: DISABLE } } }
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: filter-ratelimit, namespace: default }
spec:
  workloadSelector: { labels: { app: productpage } }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: { name: envoy.filters.http.router }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
          domain: ratelimit
          failure_mode_deny: ${opts.failureModeDeny === true}
          timeout: 10s
          ${opts.extra ?? ''}
          rate_limit_service:
            grpc_service:
              envoy_grpc:
                cluster_name: ${opts.cluster ?? 'outbound|8081||ratelimit.default.svc.cluster.local'}
                authority: ratelimit.default.svc.cluster.local
            transport_api_version: V3
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: filter-ratelimit-svc, namespace: default }
spec:
  workloadSelector: { labels: { app: productpage } }
  configPatches:
  - applyTo: VIRTUAL_HOST
    match:
      context: SIDECAR_INBOUND
      routeConfiguration: { vhost: { route: { action: ANY } } }
    patch:
      operation: MERGE
      value:
        rate_limits:
        - actions:
          - request_headers: { header_name: ":path", descriptor_key: "PATH" }
`;

const tmp = useTmpDir();
let rls: RateLimitGrpcServer;
let now = Date.parse('2026-11-28T12:00:00Z');

beforeAll(async () => {
  rls = await startRateLimitServer({ config: RATELIMIT_CONFIG, now: () => now });
});
afterAll(async () => {
  await rls.close();
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  // A new minute: every test starts with fresh windows.
  now += 60_000;
});

let framework: 'fastify' | 'express' = 'fastify';
const meshes: Mesh[] = [];

async function productpage(config: string, rlsPort = rls.port, telemetry = false): Promise<string> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config);
  const mesh: Mesh = await createMesh({
    config: dir,
    workload: {
      name: 'productpage-v1',
      namespace: 'default',
      serviceAccount: 'bookinfo-productpage',
      labels: { app: 'productpage' },
    },
    endpoints: {
      'ratelimit.default.svc.cluster.local': [
        { address: '127.0.0.1', port: rlsPort, labels: { app: 'ratelimit' } },
      ],
    },
    ...(telemetry ? {} : { telemetry: false }),
  });
  meshes.push(mesh);
  closers.push(() => mesh.close());
  const port = framework === 'fastify' ? await fastifyApp(mesh) : await expressApp(mesh);
  return `http://127.0.0.1:${port}`;
}

async function fastifyApp(mesh: Mesh): Promise<number> {
  const app = Fastify();
  await app.register(meshlet, { mesh });
  app.get('/productpage', (req) => ({ page: true, quota: req.headers['x-quota-class'] ?? null }));
  app.get('/api/v1/products', () => []);
  await app.ready();
  const server = await mesh.listen(app.server, 0, '127.0.0.1');
  closers.push(() => app.close());
  return (server.address() as AddressInfo).port;
}

async function expressApp(mesh: Mesh): Promise<number> {
  const app = express();
  app.use(expressMeshlet({ mesh }));
  app.get('/productpage', (req, res) => {
    res.json({ page: true, quota: req.headers['x-quota-class'] ?? null });
  });
  app.get('/api/v1/products', (_req, res) => {
    res.json([]);
  });
  const server = await mesh.listen(app, 0, '127.0.0.1');
  closers.push(() => new Promise((r) => server.close(r)));
  return (server.address() as AddressInfo).port;
}

describe.each(['fastify', 'express'] as const)(
  'the global rate limit filter (envoy.filters.http.ratelimit), %s',
  (name) => {
    beforeAll(() => {
      framework = name;
    });

    it('sends the PATH descriptor and answers OVER_LIMIT with 429 and x-envoy-ratelimited, as the istio.io task shows', async () => {
      const base = await productpage(filter());
      const before = rls.seen.length;
      const first = await fetch(`${base}/productpage`);
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ page: true });
      const second = await fetch(`${base}/productpage`);
      expect(second.status).toBe(429);
      expect(second.headers.get('x-envoy-ratelimited')).toBe('true');
      // Envoy's local reply for the filter has the service's raw body, none here.
      expect(await second.text()).toBe('');
      // Other paths have their own, larger limit.
      for (let i = 0; i < 3; i++) expect((await fetch(`${base}/api/v1/products`)).status).toBe(200);

      const sent = rls.seen.slice(before);
      expect(sent).toHaveLength(5);
      expect(sent[0]).toMatchObject({
        domain: 'ratelimit',
        descriptors: [{ entries: [{ key: 'PATH', value: '/productpage' }] }],
      });
      expect(sent[2]?.descriptors[0]?.entries).toEqual([{ key: 'PATH', value: '/api/v1/products' }]);
      expect(rls.authorities.at(-1)).toBe('ratelimit.default.svc.cluster.local');
    });

    it("passes the service's request_headers_to_add to the application", async () => {
      const decorating = await startRateLimitServer({
        config: RATELIMIT_CONFIG,
        now: () => now,
        handler: (_req, fromConfig) => {
          const r = fromConfig();
          return 'grpcError' in r
            ? r
            : { ...r, request_headers_to_add: [{ key: 'x-quota-class', value: 'gold' }] };
        },
      });
      closers.push(() => decorating.close());
      const base = await productpage(filter(), decorating.port);
      expect(await (await fetch(`${base}/productpage`)).json()).toEqual({ page: true, quota: 'gold' });
    });

    it('reports a refusal in istio_requests_total with flag RL and in meshlet_ratelimited_requests_total', async () => {
      const base = await productpage(filter(), rls.port, true);
      await (await fetch(`${base}/productpage`)).text();
      await (await fetch(`${base}/productpage`)).text();
      const registry = meshes.at(-1)?.metrics;
      if (registry === undefined || registry === null) throw new Error('no metrics');
      const text = await registry.metrics();
      const limited = text
        .split('\n')
        .find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="429"'));
      expect(limited).toContain('response_flags="RL"');
      expect(limited).toMatch(/ 1$/);
      expect(text).toMatch(/meshlet_ratelimited_requests_total\{port="\d+"\} 1/);
    });

    it('lets requests through when the service fails, and refuses them with 500 under failure_mode_deny', async () => {
      // Nothing listens on this port: every call fails to connect.
      const open = await productpage(filter(), 1);
      const res = await fetch(`${open}/productpage`);
      expect(res.status).toBe(200);

      const closed = await productpage(filter({ failureModeDeny: true }), 1);
      const denied = await fetch(`${closed}/productpage`);
      expect(denied.status).toBe(500);
      expect(denied.headers.get('x-envoy-ratelimited')).toBeNull();
    });

    it('reaches the service through a cluster an EnvoyFilter CLUSTER patch adds', async () => {
      const added = `${filter({ cluster: 'rate_limit_cluster' })}---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: rate-limit-cluster, namespace: default }
spec:
  workloadSelector: { labels: { app: productpage } }
  configPatches:
  - applyTo: CLUSTER
    match: { cluster: { service: ratelimit.default.svc.cluster.local } }
    patch:
      operation: ADD
      value:
        name: rate_limit_cluster
        type: STRICT_DNS
        connect_timeout: 10s
        lb_policy: ROUND_ROBIN
        http2_protocol_options: {}
        load_assignment:
          cluster_name: rate_limit_cluster
          endpoints:
          - lb_endpoints:
            - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${rls.port} } } }
`;
      const base = await productpage(added);
      expect((await fetch(`${base}/productpage`)).status).toBe(200);
      expect((await fetch(`${base}/productpage`)).status).toBe(429);
    });

    it('adds x-ratelimit-* headers with enable_x_ratelimit_headers DRAFT_VERSION_03', async () => {
      const base = await productpage(filter({ extra: 'enable_x_ratelimit_headers: DRAFT_VERSION_03' }));
      const res = await fetch(`${base}/api/v1/products`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBe('100, 100;w=60');
      expect(res.headers.get('x-ratelimit-remaining')).toBe('99');
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    });

    it('warns that Envoy refuses the bookinfo sample, which has no transport_api_version, and does not apply it', async () => {
      const sample = await readFile(SAMPLE, 'utf8');
      const dir = await tmp();
      await writeFile(path.join(dir, 'sample.yaml'), sample);
      const { loadConfig } = await import('../../packages/core/src/index.js');
      const snap = await loadConfig([dir]);
      const notice = snap.diagnostics.find((d) => d.code === 'MESHLET0007');
      expect(notice?.message).toContain('transport_api_version');
      expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);
    });
  },
);
