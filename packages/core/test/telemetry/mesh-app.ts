import { writeFile } from 'node:fs/promises';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { createMesh, decideNodeRequest, type Mesh } from '../../src/index.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { lineCollector } from '../helpers/line-collector.js';
import type { useCleanup } from '../helpers/cleanup.js';
import { samples } from './metrics-support.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface MeshApp {
  readonly mesh: Mesh;
  /** The loopback port the application listens on. */
  readonly port: number;
  /** Access-log lines, client and server, as written. */
  readonly lines: string[];
}

/**
 * A mesh for `workload` from `yaml` (access logs on, JSON), serving `handler` on a
 * loopback port the way the Express and Fastify adapters do ({@link listenLikeAdapters}).
 */
export async function meshApp(
  cleanup: ReturnType<typeof useCleanup>,
  dir: string,
  options: { readonly workload: WorkloadIdentity; readonly yaml: string; readonly handler: Handler },
): Promise<MeshApp> {
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `${istioConfigMap('accessLogFile: /dev/stdout\naccessLogEncoding: JSON')}${options.yaml}`,
  );
  const lines: string[] = [];
  const mesh = cleanup.mesh(
    await createMesh({
      config: dir,
      workload: options.workload,
      telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
    }),
  );
  return { mesh, port: await listenLikeAdapters(mesh, options.handler), lines };
}

/**
 * Serves `handler` on a loopback port of the mesh server the way the Express and Fastify
 * adapters do: `decideNodeRequest` with the mesh's inbound handle, a denial answered as
 * they answer it, an allowed request handed on through `forwarded` (the sidecar's response
 * headers) and run in the request's context. Resolves with the port.
 */
export async function listenLikeAdapters(mesh: Mesh, handler: Handler): Promise<number> {
  const fail = (res: ServerResponse) => {
    res.statusCode = 500;
    res.end();
  };
  const server = await mesh.listen(
    (req, res) =>
      decideNodeRequest(
        mesh.inbound,
        req,
        res,
        (decision, observation) => {
          if (!decision.allow) {
            res.writeHead(decision.status, decision.headers).end(decision.body);
            return;
          }
          mesh.inbound.forwarded?.(res);
          const run = () => void Promise.resolve(handler(req, res)).catch(() => fail(res));
          if (observation === null) run();
          else observation.run(run);
        },
        () => fail(res),
      ),
    0,
    '127.0.0.1',
  );
  return (server.address() as AddressInfo).port;
}

/** The `name` samples of the mesh's registry once one matches `where`; fails after two seconds. */
export async function samplesWhen(
  mesh: Mesh,
  name: string,
  where: (labels: Record<string, string>) => boolean,
): Promise<Record<string, string>[]> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const rows = (await samples(mesh.metrics!, name)).map((s) => s.labels);
    if (rows.some(where)) return rows;
    if (Date.now() > deadline) throw new Error(`no ${name} sample matched: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A plain HTTP/1.1 request to the app on `port`, resolved with the status once the body is read. */
export function send(
  port: number,
  options: {
    readonly path?: string;
    readonly method?: string;
    readonly headers?: Record<string, string>;
  } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    )
      .on('error', reject)
      .end();
  });
}
