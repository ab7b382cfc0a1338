import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createMesh, type Mesh, type MeshOptions } from '../../../src/index.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { lineCollector } from '../../helpers/line-collector.js';

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
