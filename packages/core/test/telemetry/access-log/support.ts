import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createMesh, type Mesh, type MeshOptions } from '../../../src/index.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { lineCollector } from '../../helpers/line-collector.js';
import { certSourceFor } from '../../inbound/server/support.js';
import { listenLikeAdapters } from '../mesh-app.js';

/**
 * meshConfig with an `envoyFileAccessLog` provider `name` printing `format`, and the
 * mesh-wide Telemetry resource logging through it; `spec` adds lines to its
 * `accessLogging` entry (`match: ...`, `filter: ...`), each indented for it.
 */
export function textLogProvider(name: string, format: string, spec: readonly string[] = []): string {
  return `${istioConfigMap(`extensionProviders:
- name: ${name}
  envoyFileAccessLog:
    path: /dev/stdout
    logFormat:
      text: ${JSON.stringify(format)}`)}apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: ${name} }]
${spec.map((l) => `    ${l}\n`).join('')}`;
}

/**
 * A mesh for the workload `<app>-1` (service account `serviceAccount`) in `namespace`, loading
 * `yaml` from `dir`, whose access-log lines are collected in the returned array.
 */
export async function loggingMesh(
  dir: string,
  yaml: string,
  workload: { readonly app: string; readonly namespace?: string; readonly serviceAccount?: string },
  options: Omit<MeshOptions, 'config' | 'workload' | 'telemetry'> = {},
): Promise<{ mesh: Mesh; lines: string[] }> {
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const lines: string[] = [];
  const mesh = await createMesh({
    ...options,
    config: dir,
    workload: {
      name: `${workload.app}-1`,
      namespace: workload.namespace ?? 'default',
      serviceAccount: workload.serviceAccount ?? workload.app,
      labels: { app: workload.app },
    },
    telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
  });
  return { mesh, lines };
}

/**
 * reviews (`default/reviews`, with its workload certificate) serving `{}` as JSON through the
 * mesh server, as the adapters serve; `track` registers the mesh for closing.
 */
export async function servingReviews(
  dir: string,
  yaml: string,
  track: (mesh: Mesh) => Mesh,
): Promise<{ mesh: Mesh; port: number; lines: string[] }> {
  const { mesh, lines } = await loggingMesh(
    dir,
    yaml,
    { app: 'reviews' },
    { certs: await certSourceFor('default', 'reviews') },
  );
  track(mesh);
  // The test clients (tlsGet) read a JSON body.
  const port = await listenLikeAdapters(mesh, (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  return { mesh, port, lines };
}

/** The `key=value | key=value` fields of a line these tests log. */
export const fields = (line: string): Record<string, string> =>
  Object.fromEntries(
    line
      .trim()
      .split(' | ')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

/**
 * A STATIC, MESH_EXTERNAL ServiceEntry `name` for `host` whose one endpoint is 127.0.0.1 on
 * `port`; `endpoint` adds fields to it (YAML flow text, e.g. `locality: us-east1/zone-b`).
 */
export function loopbackEntry(name: string, host: string, port: number, endpoint = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${host}]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1${endpoint === '' ? '' : `, ${endpoint}`} }]
`;
}
