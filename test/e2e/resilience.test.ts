import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock, createMesh, seededRandom, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

// Istio's circuit-breaking and outlier-detection behaviour through the whole pipeline,
// with real loopback servers and the real got transport (istio.io tasks
// traffic-management/circuit-breaking; spec/traffic.md §2).

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
interface Upstream {
  port: number;
  hits: number;
  close(): Promise<void>;
}

async function upstream(handler: Handler): Promise<Upstream> {
  const state = { hits: 0 };
  const server = http.createServer((req, res) => {
    state.hits++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function meshWith(
  yaml: string,
  endpoints: Upstream[],
  extra: Parameters<typeof createMesh>[0] = {},
): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'client', namespace: 'default', serviceAccount: 'client', labels: { app: 'client' } },
    endpoints: {
      'httpbin.default.svc.cluster.local': endpoints.map((u) => ({
        address: '127.0.0.1',
        port: u.port,
        labels: { app: 'httpbin' },
      })),
    },
    ...extra,
  });
  cleanup.push(() => mesh.close());
  return mesh;
}

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000 }] }
`;

describe('circuit breaking through mesh.fetch', () => {
  it('queues one request and overflows the next with 503 UO and x-envoy-overloaded (maxConnections 1, 1 pending)', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = await upstream((_req, res) => {
      void gate.then(() => res.end('ok'));
    });
    cleanup.push(() => slow.close());
    const mesh = await meshWith(
      `${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: httpbin }
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 }
`,
      [slow],
    );
    // Three calls at once: one holds the only connection, one waits as pending, one overflows.
    // Each body is read as soon as it arrives: an unread body keeps its pool slot, as in Envoy.
    const calls = [0, 1, 2].map(() =>
      mesh.fetch('http://httpbin:8000/get').then(async (r) => ({
        status: r.status,
        flags: r.meshlet.flags,
        overloaded: r.headers.get('x-envoy-overloaded'),
        body: await r.text(),
      })),
    );
    const overflow = await Promise.race(calls);
    expect(overflow).toEqual({
      status: 503,
      flags: ['UO'],
      overloaded: 'true',
      body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
    });
    release();
    const all = await Promise.all(calls);
    expect(all.map((r) => r.status).sort()).toEqual([200, 200, 503]);
    // The overflow is counted, as Envoy's upstream_rq_pending_overflow, and reported by Istio's metric with flag UO.
    const exposition = await mesh.metrics!.metrics();
    expect(exposition).toMatch(
      /meshlet_upstream_rq_pending_overflow_total\{cluster="outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local"\} 1/,
    );
    expect(exposition).toMatch(
      /istio_requests_total\{[^}]*reporter="source"[^}]*response_code="503"[^}]*response_flags="UO"[^}]*\} 1/,
    );
    expect(slow.hits).toBe(2);
  });
});

describe('outlier detection through mesh.fetch', () => {
  it('ejects a host after consecutive 5xx, sends traffic to the other, and returns it after baseEjectionTime on a sweep', async () => {
    let failing = true;
    const bad = await upstream((_req, res) => {
      res.statusCode = failing ? 503 : 200;
      res.end(failing ? 'down' : 'bad-recovered');
    });
    const good = await upstream((_req, res) => res.end('good'));
    cleanup.push(
      () => bad.close(),
      () => good.close(),
    );
    const clock = createManualClock(0);
    const mesh = await meshWith(
      `${SERVICE}---
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
      [bad, good],
      { clock, random: seededRandom(7) },
    );
    const call = async () => {
      const res = await mesh.fetch('http://httpbin:8000/');
      return `${res.status} ${await res.text()}`;
    };
    // Round robin alternates; the bad host answers 503 twice, then is ejected.
    const before: string[] = [];
    for (let i = 0; i < 4; i++) before.push(await call());
    expect(before.filter((r) => r === '503 down')).toHaveLength(2);
    const badHitsAtEjection = bad.hits;
    const during: string[] = [];
    for (let i = 0; i < 6; i++) during.push(await call());
    expect(during).toEqual(Array(6).fill('200 good'));
    expect(bad.hits).toBe(badHitsAtEjection);

    // Un-ejection happens on the interval sweep once baseEjectionTime (x1) has passed.
    failing = false;
    await clock.advance(29_000);
    for (let i = 0; i < 2; i++) expect(await call()).toBe('200 good');
    await clock.advance(2_000);
    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push(await call());
    expect(after).toContain('200 bad-recovered');
  });
});
