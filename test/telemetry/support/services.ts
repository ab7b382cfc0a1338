import express from 'express';
import Fastify from 'fastify';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { compilePlan } from '../../../packages/core/src/compile/compile-plan.js';
import type { MeshPlan } from '../../../packages/core/src/compile/plan-types.js';
import type { StaticEndpoint } from '../../../packages/core/src/compile/registry.js';
import type { WorkloadIdentity } from '../../../packages/core/src/compile/workload.js';
import { loadConfigText } from '../../../packages/core/src/config/load.js';
import type { ConfigSnapshot } from '../../../packages/core/src/config/snapshot.js';
import { createInboundEngine } from '../../../packages/core/src/inbound/engine.js';
import type { InboundHandle } from '../../../packages/core/src/inbound/handle.js';
import { createJwtAuthenticator } from '../../../packages/core/src/inbound/jwt/authenticator.js';
import { observedHandle } from '../../../packages/core/src/inbound/node-observe.js';
import { createOutboundClient, type OutboundClient } from '../../../packages/core/src/outbound/client.js';
import { createUndiciTransport } from '../../../packages/core/src/outbound/transports/undici-transport.js';
import { createClusterManager } from '../../../packages/core/src/outbound/upstream/cluster-manager.js';
import { createMesh, type Mesh } from '../../../packages/core/src/index.js';
import { createManualClock, systemClock } from '../../../packages/core/src/runtime/clock.js';
import { seededRandom } from '../../../packages/core/src/runtime/random.js';
import {
  createMeshTelemetry,
  type MeshTelemetry,
} from '../../../packages/core/src/telemetry/mesh-telemetry.js';
import { meshlet as fastifyMeshlet } from '../../../packages/fastify/src/index.js';
import { meshlet as expressMeshlet } from '../../../packages/express/src/index.js';
import { lineCollector } from '../../../packages/core/test/helpers/line-collector.js';

export type Framework = 'fastify' | 'express';

/** A route handler as both frameworks run it: request headers in, status and body out. */
export type Route = (headers: IncomingHttpHeaders) => Promise<{ status: number; body: string }>;

/** Loads YAML and fails loudly on any error diagnostic. */
export function snapshotOf(yaml: string): ConfigSnapshot {
  const snap = loadConfigText(yaml);
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.code} ${d.message}`).join('\n'));
  return snap;
}

/** A workload's telemetry with its own registry, sampled at 100 %, access log lines collected. */
export function telemetryFor(
  workload: WorkloadIdentity,
  snapshot: ConfigSnapshot,
  spanProcessors: readonly SpanProcessor[] = [],
): { telemetry: MeshTelemetry; lines: string[] } {
  const lines: string[] = [];
  const stream = lineCollector(lines);
  const telemetry = createMeshTelemetry({
    workload,
    snapshot,
    meshConfig: { ...snapshot.meshConfig, accessLogFile: '/dev/stdout', tracingSampling: 100 },
    registry: new Registry(),
    spanProcessors,
    otlp: false,
    env: {},
    accessLogSink: { stream },
  });
  return { telemetry, lines };
}

/** The inbound handle of a workload (plaintext loopback: no verified peer), observed by its telemetry. */
export function inboundHandle(plan: MeshPlan, telemetry: MeshTelemetry): InboundHandle {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const engine = createInboundEngine({
    getPlan: () => plan,
    jwt: createJwtAuthenticator({ clock }),
    clock,
    random: seededRandom(1),
  });
  return observedHandle({ decide: (r) => engine.decide(r), peerOf: () => null }, telemetry);
}

/** The outbound client of a workload over real sockets (undici), reporting into its telemetry. */
export function outboundClient(
  plan: () => MeshPlan,
  telemetry: MeshTelemetry,
): { client: OutboundClient; close(): Promise<void> } {
  const transport = createUndiciTransport();
  const clusters = createClusterManager({
    clock: systemClock,
    random: seededRandom(3),
    onEvent: telemetry.onUpstreamEvent,
  });
  const client = createOutboundClient({
    getPlan: plan,
    clusters,
    transport,
    clock: systemClock,
    random: seededRandom(2),
    telemetry,
  });
  return {
    client,
    close: async () => {
      clusters.close();
      await transport.close();
    },
  };
}

export function compile(
  snapshot: ConfigSnapshot,
  workload: WorkloadIdentity,
  endpoints: Record<string, StaticEndpoint[]> = {},
): MeshPlan {
  return compilePlan(snapshot, workload, { endpoints });
}

export interface RunningService {
  readonly port: number;
  close(): Promise<void>;
}

/** A real Fastify or Express service on 127.0.0.1:0 with the meshlet adapter registered first. */
export async function startService(
  framework: Framework,
  handle: InboundHandle,
  routes: Readonly<Record<string, Route>>,
): Promise<RunningService> {
  if (framework === 'fastify') {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh: { inbound: handle } });
    for (const [path, route] of Object.entries(routes)) {
      app.get(path, async (request, reply) => {
        const r = await route(request.headers);
        return reply.code(r.status).type('text/plain').send(r.body);
      });
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
  }
  const app = express();
  app.use(expressMeshlet({ mesh: { inbound: handle } }));
  for (const [path, route] of Object.entries(routes)) {
    app.get(path, (req, res, next) => {
      route(req.headers).then((r) => res.status(r.status).type('text/plain').send(r.body), next);
    });
  }
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Parses one metric's samples from a Prometheus exposition. */
export async function samples(registry: Registry, name: string) {
  const text = await registry.metrics();
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const body = open < 0 ? '' : line.slice(open + 1, line.lastIndexOf('}'));
    const labels: Record<string, string> = {};
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

/** A mesh for a reviews-v1 workload with telemetry on and no trace export (inbound telemetry tests). */
export function reviewsMesh(): Promise<Mesh> {
  return createMesh({
    workload: {
      name: 'reviews-v1',
      namespace: 'default',
      serviceAccount: 'reviews',
      labels: { app: 'reviews' },
    },
    telemetry: { otlp: false },
  });
}
