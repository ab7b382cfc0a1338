import express from 'express';
import Fastify from 'fastify';
import type { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { createMesh, type Mesh, type MeshOptions } from '../../packages/core/src/index.js';
import { lineCollector } from '../../packages/core/test/helpers/line-collector.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';
import type { Closers } from './httpbin-mesh.js';

/** The servers meshlet makes, which parse the requests themselves. */
export const MESH_SERVERS = ['mesh.listen (Express)', 'Fastify serverFactory'] as const;
/** With the plugin on Fastify's own server too, whose requests node parses and the engine sees. */
export const ALL_SERVERS = [...MESH_SERVERS, 'Fastify plugin on its own server'] as const;
export type ServerKind = (typeof ALL_SERVERS)[number];

/** httpbin behind meshlet, observed. */
export interface ObservedHttpbin {
  readonly port: number;
  readonly registry: Registry;
  /** The JSON access log's lines. */
  readonly log: string[];
  readonly spans: InMemorySpanExporter;
  /** How many requests its handlers ran. */
  readonly handled: () => number;
  /** The server the requests arrive on (its `upgrade` listeners hear upgrade requests). */
  readonly server: EventEmitter;
}

/** Every request traced, so a span would show. */
export const TRACE_ALL = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 100
`;

/** A mesh for httpbin in foo, every request traced, its metrics, JSON access log and spans kept. */
export interface ObservedMesh {
  readonly mesh: Mesh;
  readonly registry: Registry;
  readonly log: string[];
  readonly spans: InMemorySpanExporter;
}

/**
 * The mesh of httpbin in foo with its config in `dir` (every request traced, with what else is
 * there), its metrics, its JSON access log and its spans collected. `options` go to
 * `createMesh` (certificates, istiod's features, a clock), but `accessLogFormat`, the JSON log's format
 * (meshConfig `accessLogFormat`).
 */
export async function observedMesh(
  dir: string,
  closers: Closers,
  options: Pick<MeshOptions, 'certs' | 'istiodFeatures' | 'clock'> & {
    readonly accessLogFormat?: string;
  } = {},
): Promise<ObservedMesh> {
  const { accessLogFormat, ...meshOptions } = options;
  await writeFile(path.join(dir, 'mesh.yaml'), TRACE_ALL);
  const registry = new Registry();
  const log: string[] = [];
  const spans = new InMemorySpanExporter();
  const mesh: Mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    config: dir,
    ...meshOptions,
    meshConfig: {
      accessLogFile: '/dev/stdout',
      accessLogEncoding: 'JSON',
      ...(accessLogFormat === undefined ? {} : { accessLogFormat }),
    },
    telemetry: {
      registry,
      otlp: false,
      accessLogSink: { stream: lineCollector(log) },
      spanProcessors: [new SimpleSpanProcessor(spans)],
    },
  });
  closers.push(() => mesh.close());
  return { mesh, registry, log, spans };
}

/**
 * httpbin in foo behind meshlet as `kind` serves it (`observedMesh`): `GET /` answers `ok`,
 * `POST /` reads the body and answers `posted`.
 */
export async function observedHttpbin(
  kind: ServerKind,
  dir: string,
  closers: Closers,
  options: Pick<MeshOptions, 'certs' | 'istiodFeatures' | 'clock'> & {
    readonly accessLogFormat?: string;
  } = {},
): Promise<ObservedHttpbin> {
  const { mesh, registry, log, spans } = await observedMesh(dir, closers, options);
  let handled = 0;
  const served = (port: number, server: EventEmitter): ObservedHttpbin => ({
    port,
    registry,
    log,
    spans,
    handled: () => handled,
    server,
  });
  if (kind !== 'mesh.listen (Express)') {
    const app = Fastify(kind === 'Fastify serverFactory' ? { serverFactory: mesh.serverFactory } : {});
    await app.register(meshletFastify, { mesh });
    app.get('/', () => {
      handled++;
      return 'ok';
    });
    app.post('/', () => {
      handled++;
      return 'posted';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return served((app.server.address() as AddressInfo).port, app.server);
  }
  const app = express();
  app.use(meshletExpress({ mesh }));
  app.get('/', (_req, res) => {
    handled++;
    res.send('ok');
  });
  app.post('/', (req, res) => {
    handled++;
    req.resume();
    req.on('end', () => res.send('posted'));
  });
  const server = await mesh.listen(app, 0, '127.0.0.1');
  return served((server.address() as AddressInfo).port, server);
}

/** Writes `bytes` on `socket` once it is `ready` and reads everything until the server closes. */
export function exchange(socket: Socket, bytes: string, ready: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.once(ready, () => socket.write(bytes));
  });
}

/** `bytes` on a fresh plaintext connection; everything the server wrote until it closed. */
export const plainExchange = (port: number, bytes: string): Promise<string> =>
  exchange(connect(port, '127.0.0.1'), bytes, 'connect');

/** The `istio_requests_total` series: labels and value. */
export async function requestsTotal(
  registry: Registry,
): Promise<{ labels: Record<string, unknown>; value: number }[]> {
  const m = await registry.getSingleMetric('istio_requests_total')!.get();
  return m.values.map((v) => ({ labels: { ...v.labels }, value: v.value }));
}

/** The `_sum` of a histogram over all its series. */
export async function histogramSum(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const sums = m.values.filter((v) => (v as { metricName?: string }).metricName === `${name}_sum`);
  return sums.reduce((a, v) => a + v.value, 0);
}
