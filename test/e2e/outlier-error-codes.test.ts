import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock, createMesh, seededRandom } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

// DestinationRule outlierDetection.outlierDetectionHttpErrorCodes through mesh.fetch against
// real loopback servers. Istio turns the list into the cluster's outlier error matcher
// (cluster_traffic_policy.go applyOutlierDetectionErrorCodes); Envoy then counts only
// matching responses as errors, so a host answering a listed 429 is ejected and a host
// answering an unlisted 503 is not (envoy docs arch_overview/upstream/outlier "Error Mapping").

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A loopback server answering `status` with `body`, counting its requests. */
async function upstream(status: number, body: string) {
  const state = { hits: 0 };
  const server = http.createServer((_req, res) => {
    state.hits++;
    res.statusCode = status;
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, hits: () => state.hits };
}

async function fetcher(codes: string, ports: number[]) {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: httpbin }
spec:
  host: httpbin
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 100
      outlierDetectionHttpErrorCodes: ${codes}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin }
spec:
  hosts: [httpbin]
  http:
  - route: [{ destination: { host: httpbin } }]
    retries: { attempts: 0 }
`,
  );
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'client', namespace: 'default', serviceAccount: 'client', labels: { app: 'client' } },
    endpoints: {
      'httpbin.default.svc.cluster.local': ports.map((port) => ({
        address: '127.0.0.1',
        port,
        labels: { app: 'httpbin' },
      })),
    },
    clock: createManualClock(0),
    random: seededRandom(7),
  });
  cleanup.push(() => mesh.close());
  return async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await mesh.fetch('http://httpbin:8000/');
      out.push(`${res.status} ${await res.text()}`);
    }
    return out;
  };
}

describe('outlierDetectionHttpErrorCodes through mesh.fetch', () => {
  it('ejects a host that keeps answering a listed 429', async () => {
    const limited = await upstream(429, 'slow down');
    const good = await upstream(200, 'good');
    const call = await fetcher('[429]', [limited.port, good.port]);
    // Round robin alternates: two 429s from the limited host reach consecutive5xxErrors 2.
    expect((await call(4)).filter((r) => r === '429 slow down')).toHaveLength(2);
    const hitsAtEjection = limited.hits();
    expect(await call(6)).toEqual(Array(6).fill('200 good'));
    expect(limited.hits()).toBe(hitsAtEjection);
  });

  it('keeps a host answering an unlisted 503 in rotation', async () => {
    const failing = await upstream(503, 'down');
    const good = await upstream(200, 'good');
    const call = await fetcher('[429]', [failing.port, good.port]);
    const results = await call(10);
    expect(results.filter((r) => r === '503 down')).toHaveLength(5);
    expect(failing.hits()).toBe(5);
  });
});
