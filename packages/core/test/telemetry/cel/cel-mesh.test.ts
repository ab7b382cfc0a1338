import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../../src/config/mesh-config.js';
import { createInboundObserver } from '../../../src/inbound/node-observe.js';
import { nodeConnectionOf, toInboundRequest } from '../../../src/inbound/node-request.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../../src/telemetry/mesh-telemetry.js';
import { lineCollector } from '../../helpers/line-collector.js';
import { REVIEWS_V2, snapshotOf } from '../helpers.js';
import { samples } from '../metrics-support.js';
import { ALLOW_PRODUCTPAGE, PRODUCTPAGE_PEER } from '../helpers.js';

// One Telemetry, real HTTP requests through the inbound observer: the access-log filter
// runs as Envoy's CEL access-log filter (log only on `true`), the tag values as
// istio_stats evaluates them (failed evaluation reads `unknown`).

const open: MeshTelemetry[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const TELEMETRY = `apiVersion: v1
kind: Namespace
metadata: { name: default }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: envoy }]
    filter:
      expression: "request.headers['x-debug'] == 'on' || (response.code >= 500 && request.url_path.startsWith('/reviews/'))"
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT, mode: SERVER }
      tagOverrides:
        tenant: { value: "request.headers['x-tenant']" }
        debug: { value: "has(request.headers.x_debug) ? 'odd' : request.headers['x-debug'] == 'on'" }
`;

async function serve(t: MeshTelemetry): Promise<number> {
  const observe = createInboundObserver(t);
  const server = createServer((req, res) => {
    const inbound = toInboundRequest(req, nodeConnectionOf(req.socket, PRODUCTPAGE_PEER));
    const o = observe(req, res, inbound);
    o.decided(ALLOW_PRODUCTPAGE);
    o.run(() => {
      res.statusCode = Number(req.headers['x-status'] ?? 200);
      res.end('hello');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const get = (port: number, headers: Record<string, string>) =>
  new Promise<void>((resolve, reject) => {
    const r = request(
      { host: '127.0.0.1', port, path: '/reviews/1', headers: { host: 'reviews:9080', ...headers } },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    r.on('error', reject);
    r.end();
  });

describe('CEL in Telemetry over real requests', () => {
  it('logs only what the filter accepts and labels tag values per request', async () => {
    const lines: string[] = [];
    const t = createMeshTelemetry({
      workload: REVIEWS_V2,
      snapshot: snapshotOf(TELEMETRY),
      meshConfig: DEFAULT_MESH_CONFIG,
      registry: new Registry(),
      otlp: false,
      env: {},
      accessLogSink: { stream: lineCollector(lines) },
    });
    open.push(t);
    const port = await serve(t);
    await get(port, { 'x-tenant': 'acme' }); // 200, no x-debug: an error || false → not logged
    await get(port, { 'x-tenant': 'acme', 'x-status': '503' }); // error || true → logged
    await get(port, { 'x-debug': 'on' }); // logged
    await get(port, { 'x-debug': 'off' }); // false || false → not logged
    await t.accessLog.server.flush();
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => / (\d{3}) /.exec(l)?.[1])).toEqual(['503', '200']);
    const rows = await samples(t.registry, 'istio_requests_total');
    const labels = rows.map((r) => [
      r.labels['tenant'],
      r.labels['debug'],
      r.labels['response_code'],
      r.value,
    ]);
    expect(labels).toEqual(
      expect.arrayContaining([
        ['acme', 'unknown', '200', 1],
        ['acme', 'unknown', '503', 1],
        ['unknown', 'true', '200', 1],
        ['unknown', 'false', '200', 1],
      ]),
    );
    expect(labels).toHaveLength(4);
  });
});
