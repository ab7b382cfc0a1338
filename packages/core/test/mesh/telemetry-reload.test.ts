import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createMesh, type MeshReloadEvent } from '../../src/index.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { useTmpDir } from '../helpers/tmp.js';
import { useCleanup } from '../helpers/cleanup.js';
import { samples } from '../telemetry/metrics-support.js';

const tmp = useTmpDir();
const cleanup = useCleanup();

async function upstream(): Promise<number> {
  const server = createServer((_req, res) => res.end('ok'));
  cleanup.server(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** The mesh-wide Telemetry and the istio ConfigMap: a tag value, a sampling rate, and an optional file log. */
function config(team: string, sampling: number, logFile: string | null): string {
  return `${istioConfigMap(`extensionProviders:
- name: file-log
  envoyFileAccessLog:
    path: ${logFile ?? '/dev/null'}`)}apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  metrics:
  - providers: [{ name: prometheus }]
    overrides:
    - match: { metric: REQUEST_COUNT, mode: CLIENT }
      tagOverrides:
        team: { value: "'${team}'" }
  tracing:
  - randomSamplingPercentage: ${sampling}
${logFile === null ? '' : '  accessLogging:\n  - providers: [{ name: file-log }]\n'}`;
}

describe('createMesh: a config reload reconfigures telemetry (Telemetry API and meshConfig)', () => {
  it('applies new metric tag overrides, sampling and access logging from the next call, keeping the old series', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'telemetry.yaml');
    const logFile = path.join(dir, 'access.log');
    await writeFile(file, config('a', 0, null));
    const port = await upstream();
    const exporter = new InMemorySpanExporter();
    const mesh = await createMesh({
      config: dir,
      debounceMs: 10,
      workload: { name: 'front-v1', namespace: 'default', serviceAccount: 'front', labels: { app: 'front' } },
      telemetry: { spanProcessors: [new SimpleSpanProcessor(exporter)], otlp: false },
    });
    cleanup.mesh(mesh);
    const call = async () => expect(await (await mesh.fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');

    await call();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    const teams = async () =>
      (await samples(mesh.metrics!, 'istio_requests_total'))
        .filter((s) => s.labels['reporter'] === 'source')
        .map((s) => [s.labels['team'], s.value])
        .sort();
    expect(await teams()).toEqual([['a', 1]]);

    const reloaded = new Promise<MeshReloadEvent>((r) => mesh.on('reload', r));
    await writeFile(file, config('b', 100, logFile));
    await reloaded;

    await call();
    // The new tag value is a new series; the one recorded before the reload is still exported.
    expect(await teams()).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    // Sampling went from 0 to 100 %: the call after the reload has a CLIENT span, on the same processor.
    expect(exporter.getFinishedSpans().map((s) => s.attributes['upstream_cluster'] ?? s.name)).toHaveLength(
      1,
    );
    await mesh.close();
    const lines = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/"GET \/ HTTP\/1\.1" 200 /);
  });
});
