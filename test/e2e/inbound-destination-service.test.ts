import express from 'express';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type MeshReloadEvent } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/express/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

// On inbound Istio never reads the Host header for destination_service (istio
// pilot/pkg/model/telemetry.go disableHostHeaderFallback: sidecar inbound). The stats
// filter takes the inbound cluster's `istio.services[0]`: the Services selecting the pod
// on that port, oldest first (pilot model/context.go SetServiceTargets); without one, the
// canonical service, always in the workload's namespace (istio_stats.cc server branch).

const tmp = useTmpDir();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const services = (port: number) => `apiVersion: v1
kind: Service
metadata: { name: details-api, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z" }
spec: { selector: { app: details }, ports: [{ name: http, port: 80, targetPort: ${port} }] }
---
apiVersion: v1
kind: Service
metadata: { name: aaa-legacy, namespace: default, creationTimestamp: "2024-06-01T00:00:00Z" }
spec: { selector: { app: details }, ports: [{ name: http, port: ${port} }] }
---
apiVersion: v1
kind: Service
metadata: { name: details-admin, namespace: default }
spec: { selector: { app: details }, ports: [{ name: http, port: 15000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: details, namespace: other }
spec: { selector: { app: details }, ports: [{ name: http, port: ${port} }] }
`;

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/details/1', headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serviceSeries(registry: Registry): Promise<(string | number)[][]> {
  const metric = await registry.getSingleMetric('istio_requests_total')!.get();
  return metric.values
    .map((v) => [
      String(v.labels['destination_service']),
      String(v.labels['destination_service_name']),
      String(v.labels['destination_service_namespace']),
      v.value,
    ])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

describe('inbound destination_service', () => {
  it('comes from the Services selecting the workload on the port, never from the Host header', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'services.yaml');
    await writeFile(file, '');
    const registry = new Registry();
    const mesh = await createMesh({
      config: dir,
      workload: {
        name: 'details-v1',
        namespace: 'default',
        serviceAccount: 'bookinfo-details',
        labels: { app: 'details', version: 'v1' },
      },
      telemetry: { registry, otlp: false },
      debounceMs: 10,
    });
    closers.push(() => mesh.close());
    const app = express();
    app.use(meshlet({ mesh }));
    app.get('/details/:id', (_req, res) => res.send('ok'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;

    // No Service known: the canonical service, whatever Host the caller sent.
    expect(await get(port, 'foo:9080')).toBe(200);
    expect(await get(port, 'ratings.other.svc.cluster.local')).toBe(200);
    await expect
      .poll(() => serviceSeries(registry))
      .toEqual([['details.default.svc.cluster.local', 'details', 'default', 2]]);

    const reloaded = new Promise<MeshReloadEvent>((r) => mesh.on('reload', r));
    await writeFile(file, services(port));
    await reloaded;
    for (const host of ['foo:9080', `127.0.0.1:${port}`, 'aaa-legacy.default.svc.cluster.local'])
      expect(await get(port, host)).toBe(200);
    // details-api (older) wins over aaa-legacy; details-admin targets another port; the
    // Service in `other` cannot select a pod of `default`.
    await expect
      .poll(() => serviceSeries(registry))
      .toEqual([
        ['details-api.default.svc.cluster.local', 'details-api', 'default', 3],
        ['details.default.svc.cluster.local', 'details', 'default', 2],
      ]);
  });
});
