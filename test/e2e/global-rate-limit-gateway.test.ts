import http from 'node:http';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, loadConfig, type Mesh } from '../../packages/core/src/index.js';
import {
  startRateLimitServer,
  type RateLimitGrpcServer,
} from '../../packages/core/test/helpers/rate-limit-grpc-server.js';
import { SAMPLES, useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { send as rawSend, type RawResponse } from '../adapters/support/http.js';

// Envoy's global rate limit filter at the ingress gateway, with Istio's own sample
// (samples/bookinfo/policy/productpage_envoy_ratelimit.yaml, istio.io task "Enabling Rate
// Limits using Envoy", global rate limit): a GATEWAY-context `envoy.ratelimit` filter
// calling `rate_limit_cluster`, a CLUSTER ADD patch defining it as STRICT_DNS to
// ratelimit.default.svc.cluster.local:8081, and the gateway's virtual hosts sending the
// request path as the `PATH` descriptor. meshlet runs the gateway (mesh.gateway()) on a real
// http.Server; Bookinfo's Gateway and VirtualService route to a real productpage server on
// loopback; a real gRPC rate limit service (envoyproxy/ratelimit's configuration semantics,
// its counters on a test clock) stands behind the `ratelimit` Service, whose registry
// endpoints stand for the cluster DNS the STRICT_DNS cluster resolves.

const sample = (rel: string): string => readFileSync(path.join(SAMPLES, rel), 'utf8');
const RATELIMIT_SAMPLE = sample('bookinfo-policy/productpage_envoy_ratelimit.yaml');

/**
 * The sample with the `transport_api_version: V3` Envoy requires (envoy
 * source/common/config/utility.h checkTransportVersion), beside `grpc_service`.
 */
const RATELIMIT_SAMPLE_V3 = RATELIMIT_SAMPLE.replace(
  '            rate_limit_service:\n',
  '            rate_limit_service:\n              transport_api_version: V3\n',
);

const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
};
const PRODUCTPAGE = 'productpage.default.svc.cluster.local';
const RATELIMIT = 'ratelimit.default.svc.cluster.local';

// The rate limit service's Service (samples/ratelimit/rate-limit-service.yaml, its gRPC port).
const RATELIMIT_SERVICE = `apiVersion: v1
kind: Service
metadata: { name: ratelimit, namespace: default, labels: { app: ratelimit } }
spec:
  selector: { app: ratelimit }
  ports:
  - { name: grpc, port: 8081, targetPort: 8081 }
`;

// The task's service configuration, with the domain the sample's filter names.
const RATELIMIT_CONFIG = `domain: productpage-ratelimit
descriptors:
  - key: PATH
    value: "/productpage"
    rate_limit:
      unit: minute
      requests_per_unit: 1
  - key: PATH
    rate_limit:
      unit: minute
      requests_per_unit: 100
`;

interface Upstream {
  port: number;
  urls: string[];
  close(): Promise<void>;
}

/** productpage: answers 200 to every path, noting what reached it. */
async function productpage(): Promise<Upstream> {
  const urls: string[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('productpage');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    urls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const tmp = useTmpDir();
let rls: RateLimitGrpcServer;
// The rate limit service's clock: whole minutes are its windows.
let now = Date.parse('2026-11-28T12:00:00Z');

beforeAll(async () => {
  rls = await startRateLimitServer({ config: RATELIMIT_CONFIG, now: () => now });
});
afterAll(async () => {
  await rls.close();
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  // A new minute: every test starts with fresh windows.
  now += 60_000;
});

/** The config directory: Bookinfo, its Gateway and VirtualService, the ratelimit Service, the filter. */
async function configDir(
  ratelimit: string,
  gatewayYaml = sample('bookinfo-networking/bookinfo-gateway.yaml'),
): Promise<string> {
  const dir = await tmp();
  const docs = [sample('bookinfo-platform/bookinfo.yaml'), gatewayYaml, RATELIMIT_SERVICE, ratelimit];
  await Promise.all(docs.map((y, i) => writeFile(path.join(dir, `${i}.yaml`), y)));
  return dir;
}

async function gateway(
  dir: string,
  more: Record<string, { address: string; port: number }[]> = {},
): Promise<{ mesh: Mesh; port: number; pp: Upstream }> {
  const pp = await productpage();
  cleanup.push(() => pp.close());
  const mesh = await createMesh({
    config: dir,
    workload: INGRESS,
    endpoints: {
      ...more,
      [PRODUCTPAGE]: [{ address: '127.0.0.1', port: pp.port }],
      // Cluster DNS for the STRICT_DNS cluster: the ratelimit Service's endpoint.
      [RATELIMIT]: [{ address: '127.0.0.1', port: rls.port, labels: { app: 'ratelimit' } }],
    },
    telemetry: false,
  });
  const server = http.createServer(mesh.gateway());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await mesh.close();
  });
  return { mesh, port: (server.address() as AddressInfo).port, pp };
}

/** A browser's request through the gateway (Bookinfo's Gateway takes any host). */
const get = (port: number, pathname: string): Promise<RawResponse> =>
  rawSend(port, { method: 'GET', path: pathname, headers: { host: 'bookinfo.example.com' } });

describe('the global rate limit filter at the ingress gateway (productpage_envoy_ratelimit.yaml)', () => {
  it('as written (no transport_api_version) is refused, as Envoy refuses it: warned MESHLET0007, nothing is limited, the service is never called', async () => {
    expect(RATELIMIT_SAMPLE).not.toContain('transport_api_version');
    const dir = await configDir(RATELIMIT_SAMPLE);

    const snap = await loadConfig([dir]);
    const notices = snap.diagnostics.filter((d) => d.code === 'MESHLET0007');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      level: 'Warning',
      resource: { kind: 'EnvoyFilter', namespace: 'istio-system', name: 'filter-ratelimit' },
    });
    expect(notices[0]?.message).toContain('transport_api_version');
    expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);

    const gw = await gateway(dir);
    const before = rls.seen.length;
    // Well past the service's 1 per minute for /productpage: the filter is not there.
    for (let i = 0; i < 3; i++) {
      const r = await get(gw.port, '/productpage');
      expect(r.status).toBe(200);
      expect(r.headers['x-envoy-ratelimited']).toBeUndefined();
    }
    expect(gw.pp.urls).toEqual(['/productpage', '/productpage', '/productpage']);
    expect(rls.seen.length).toBe(before);
  });

  it('with transport_api_version: V3: /productpage once a minute (then 429, x-envoy-ratelimited), other paths not limited; PATH sent to rate_limit_cluster', async () => {
    expect(RATELIMIT_SAMPLE_V3).not.toBe(RATELIMIT_SAMPLE);
    const filter = (
      YAML.parseAllDocuments(RATELIMIT_SAMPLE_V3)[0]?.toJS() as {
        spec: { configPatches: { patch: { value: { typed_config: Record<string, unknown> } } }[] };
      }
    ).spec.configPatches[0]?.patch.value.typed_config;
    expect(filter?.['rate_limit_service']).toEqual({
      transport_api_version: 'V3',
      grpc_service: { envoy_grpc: { cluster_name: 'rate_limit_cluster' } },
    });
    const dir = await configDir(RATELIMIT_SAMPLE_V3);

    const snap = await loadConfig([dir]);
    expect(snap.diagnostics.filter((d) => d.code === 'MESHLET0007')).toEqual([]);
    expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);

    const gw = await gateway(dir);
    const before = rls.seen.length;
    const first = await get(gw.port, '/productpage');
    expect([first.status, first.body]).toEqual([200, 'productpage']);
    const second = await get(gw.port, '/productpage');
    expect(second.status).toBe(429);
    expect(second.headers['x-envoy-ratelimited']).toBe('true');
    // The local reply carries the service's raw body, none here.
    expect(second.body).toBe('');
    // Other paths have their own limit, 100 a minute.
    for (let i = 0; i < 3; i++) expect((await get(gw.port, '/api/v1/products')).status).toBe(200);
    // The limited request never reached productpage.
    expect(gw.pp.urls).toEqual(['/productpage', '/api/v1/products', '/api/v1/products', '/api/v1/products']);

    const sent = rls.seen.slice(before);
    expect(sent).toHaveLength(5);
    expect(sent[0]).toMatchObject({
      domain: 'productpage-ratelimit',
      descriptors: [{ entries: [{ key: 'PATH', value: '/productpage' }] }],
    });
    expect(sent[1]).toMatchObject({
      domain: 'productpage-ratelimit',
      descriptors: [{ entries: [{ key: 'PATH', value: '/productpage' }] }],
    });
    expect(sent.slice(2).map((s) => [s.domain, s.descriptors.map((d) => d.entries)])).toEqual(
      Array.from({ length: 3 }, () => [
        'productpage-ratelimit',
        [[{ key: 'PATH', value: '/api/v1/products' }]],
      ]),
    );
    // EnvoyGrpc without `authority`: the :authority is the cluster name (grpc_service.proto).
    expect(rls.authorities.slice(before)).toEqual(Array.from({ length: 5 }, () => 'rate_limit_cluster'));

    // The service's next minute: /productpage is allowed once again.
    now += 60_000;
    expect((await get(gw.port, '/productpage')).status).toBe(200);
    expect((await get(gw.port, '/productpage')).status).toBe(429);
  });

  it('does not call the service for a request no route takes: 404, as the filter finds no route entry', async () => {
    // ratelimit.cc initiateCall returns when the route the connection manager picked before the
    // filters has no route entry; the router then answers 404 (NR).
    const gw = await gateway(await configDir(RATELIMIT_SAMPLE_V3));
    const before = rls.seen.length;
    for (let i = 0; i < 3; i++) expect((await get(gw.port, '/reviews/0')).status).toBe(404);
    expect(rls.seen.length).toBe(before);
    expect((await get(gw.port, '/productpage')).status).toBe(200);
    expect(rls.seen.length).toBe(before + 1);
    expect(gw.pp.urls).toEqual(['/productpage']);
  });

  it("sends the route's cluster as destination_cluster (the sample's commented-out action)", async () => {
    const commented = '                  # - destination_cluster: {}';
    expect(RATELIMIT_SAMPLE_V3).toContain(commented);
    const withCluster = RATELIMIT_SAMPLE_V3.replace(commented, '              - destination_cluster: {}');
    const gw = await gateway(await configDir(withCluster));
    const before = rls.seen.length;
    expect((await get(gw.port, '/api/v1/products')).status).toBe(200);
    expect(rls.seen.slice(before).map((s) => s.descriptors.map((d) => d.entries))).toEqual([
      [
        [
          { key: 'PATH', value: '/api/v1/products' },
          { key: 'destination_cluster', value: `outbound|9080||${PRODUCTPAGE}` },
        ],
      ],
    ]);
  });

  it('sends the cluster a weighted route drew, and the router sends the request there', async () => {
    // Envoy draws a weighted route's cluster when the connection manager picks the route,
    // before the filters (config_impl.cc pickWeightedCluster, with the stream's random value),
    // so destination_cluster names the cluster the router then uses.
    const single =
      '    route:\n    - destination:\n        host: productpage\n        port:\n          number: 9080\n';
    const gatewayYaml = sample('bookinfo-networking/bookinfo-gateway.yaml');
    expect(gatewayYaml).toContain(single);
    const weighted = gatewayYaml.replace(
      single,
      `    route:
    - destination: { host: productpage, port: { number: 9080 } }
      weight: 50
    - destination: { host: details, port: { number: 9080 } }
      weight: 50
`,
    );
    const withCluster = RATELIMIT_SAMPLE_V3.replace(
      '                  # - destination_cluster: {}',
      '              - destination_cluster: {}',
    );
    const details = await productpage();
    cleanup.push(() => details.close());
    const DETAILS = 'details.default.svc.cluster.local';
    const gw = await gateway(await configDir(withCluster, weighted), {
      [DETAILS]: [{ address: '127.0.0.1', port: details.port }],
    });
    const before = rls.seen.length;
    const served: string[] = [];
    for (let i = 0; i < 16; i++) {
      const counts = [gw.pp.urls.length, details.urls.length];
      expect((await get(gw.port, `/api/v1/products/${i}`)).status).toBe(200);
      served.push(gw.pp.urls.length > counts[0]! ? PRODUCTPAGE : DETAILS);
      expect(details.urls.length + gw.pp.urls.length).toBe(counts[0]! + counts[1]! + 1);
    }
    const sent = rls.seen
      .slice(before)
      .map((s) => s.descriptors[0]?.entries.find((e) => e.key === 'destination_cluster')?.value);
    expect(sent).toEqual(served.map((host) => `outbound|9080||${host}`));
    // Both were drawn: 16 fair draws all alike would be a 1 in 32,768 chance.
    expect(new Set(served).size).toBe(2);
  });
});
