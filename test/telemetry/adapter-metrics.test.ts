import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshTelemetry } from '../../packages/core/src/telemetry/mesh-telemetry.js';
import {
  compile,
  inboundHandle,
  outboundClient,
  samples,
  snapshotOf,
  startService,
  telemetryFor,
  type Framework,
  type RunningService,
} from './support/services.js';
import { localRateLimitYaml } from '../../packages/core/test/helpers/local-rate-limit.js';
import { ISTIO_UNIT_LINT, promtool } from '../../packages/core/test/helpers/promtool.js';

const PRODUCTPAGE = {
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1' },
};
const REVIEWS_V2 = {
  name: 'reviews-v2',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: { app: 'reviews', version: 'v2' },
};

// The server: a DENY policy (istio.io authz-deny task shape) and the local rate limit
// EnvoyFilter of istio.io's rate-limit task, six tokens that never refill during the test.
const SERVER_YAML = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin"] } }]
---
${localRateLimitYaml({
  namespace: 'default',
  selector: { app: 'reviews' },
  bucket: '{ max_tokens: 6, tokens_per_fill: 6, fill_interval: 3600s }',
  responseHeader: null,
})}`;

// The client: retries on 5xx, and a pool of one connection with one pending request.
const clientYaml = (port: number) => `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ port: ${port}, name: http }]
  selector: { app: reviews }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews } }]
    retries: { attempts: 2, retryOn: 5xx }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1 }
`;

describe.each<Framework>(['fastify', 'express'])('istio metrics through a real %s service', (framework) => {
  let service: RunningService;
  let server: { telemetry: MeshTelemetry; lines: string[] };
  let client: { telemetry: MeshTelemetry; lines: string[] };
  let closeClient: () => Promise<void>;
  let cluster = '';
  const statuses: Record<string, number[]> = {};

  beforeAll(async () => {
    const serverSnap = snapshotOf(SERVER_YAML);
    server = telemetryFor(REVIEWS_V2, serverSnap);
    const handle = inboundHandle(compile(serverSnap, REVIEWS_V2), server.telemetry);
    let flaky = 0;
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((r) => (openGate = r));
    service = await startService(framework, handle, {
      '/ok': () => Promise.resolve({ status: 200, body: 'ok' }),
      '/admin': () => Promise.resolve({ status: 200, body: 'admin' }),
      // Fails once with a 503, then answers: the client's retry policy hides the failure.
      '/flaky': () =>
        Promise.resolve(flaky++ === 0 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' }),
      '/slow': async () => {
        await gate;
        return { status: 200, body: 'slow' };
      },
    });
    const port = service.port;
    cluster = `outbound|${port}||reviews.default.svc.cluster.local`;
    const clientSnap = snapshotOf(clientYaml(port));
    client = telemetryFor(PRODUCTPAGE, clientSnap);
    const plan = compile(clientSnap, PRODUCTPAGE, {
      reviews: [
        { address: '127.0.0.1', port, labels: REVIEWS_V2.labels, serviceAccount: 'bookinfo-reviews' },
      ],
    });
    const out = outboundClient(() => plan, client.telemetry);
    closeClient = () => out.close();
    const call = async (p: string) => {
      const res = await out.client.fetch(`http://reviews:${port}${p}`);
      await res.text();
      (statuses[p] ??= []).push(res.status);
      return res;
    };
    await call('/ok');
    await call('/flaky');
    await call('/admin');
    // One request holds the only connection, one waits, the third overflows: 503 UO.
    const slow = [call('/slow'), call('/slow'), call('/slow')];
    const third = await slow[2]!;
    openGate();
    await Promise.all(slow);
    expect(third.meshlet.flags).toEqual(['UO']);
    // Six tokens went to /ok, /flaky twice, /admin and /slow twice: the next is refused.
    await call('/ok');
    await Promise.all([server.telemetry.accessLog.server.flush(), client.telemetry.accessLog.client.flush()]);
  });

  afterAll(async () => {
    await closeClient();
    await service.close();
    await Promise.all([server.telemetry.close(), client.telemetry.close()]);
  });

  it('gets the statuses the policies dictate: retry hides the 503, 403 by DENY, 503 UO, 429', () => {
    // The overflowing /slow call is answered at once, before the two that reach the server.
    expect(statuses).toEqual({
      '/ok': [200, 429],
      '/flaky': [200],
      '/admin': [403],
      '/slow': [503, 200, 200],
    });
  });

  // Plaintext both ways, so both principals are `unknown` on either reporter, as Istio reads them
  // off the connection's certificates (istio/proxy testdata/metric/server_request_total.yaml.tmpl
  // and client_request_total.yaml.tmpl).
  it('reports reporter="destination" on the server with its own workload and the plaintext peer', async () => {
    const rows = await samples(server.telemetry.registry, 'istio_requests_total');
    const by = (code: string, flags = '-') =>
      rows.filter((r) => r.labels['response_code'] === code && r.labels['response_flags'] === flags);
    expect(by('200').map((r) => r.value)).toEqual([4]);
    expect(by('503').map((r) => r.value)).toEqual([1]);
    expect(by('403').map((r) => r.value)).toEqual([1]);
    expect(by('429', 'RL').map((r) => r.value)).toEqual([1]);
    for (const r of rows) {
      expect(r.labels).toMatchObject({
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: 'unknown',
        destination_workload: 'reviews-v2',
        destination_workload_namespace: 'default',
        destination_principal: 'unknown',
        destination_app: 'reviews',
        destination_version: 'v2',
        destination_canonical_service: 'reviews',
        destination_canonical_revision: 'v2',
        destination_service: 'reviews.default.svc.cluster.local',
        destination_service_name: 'reviews',
        destination_service_namespace: 'default',
        request_protocol: 'http',
        connection_security_policy: 'none',
      });
    }
  });

  it('counts the authz denial by policy and the rate-limited request on the server', async () => {
    expect(await samples(server.telemetry.registry, 'meshlet_authz_denied_total')).toEqual([
      { labels: { policy: 'default/deny-admin', action: 'DENY' }, value: 1 },
    ]);
    expect(await samples(server.telemetry.registry, 'meshlet_ratelimited_requests_total')).toEqual([
      { labels: { port: String(service.port) }, value: 1 },
    ]);
  });

  it('reports reporter="source" on the client with destination labels from the chosen endpoint', async () => {
    const rows = await samples(client.telemetry.registry, 'istio_requests_total');
    const ok = rows.find((r) => r.labels['response_code'] === '200');
    expect(ok?.value).toBe(4);
    expect(ok?.labels).toMatchObject({
      reporter: 'source',
      source_workload: 'productpage-v1',
      source_app: 'productpage',
      source_principal: 'unknown',
      destination_app: 'reviews',
      destination_version: 'v2',
      destination_canonical_service: 'reviews',
      destination_principal: 'unknown',
      destination_service: 'reviews.default.svc.cluster.local',
      destination_service_name: 'reviews',
      destination_service_namespace: 'default',
      response_flags: '-',
      connection_security_policy: 'unknown',
    });
    const uo = rows.filter((r) => r.labels['response_flags'] === 'UO');
    expect(uo.map((r) => [r.labels['response_code'], r.labels['destination_app'], r.value])).toEqual([
      ['503', 'unknown', 1],
    ]);
    expect(rows.filter((r) => r.labels['response_code'] === '429').map((r) => r.value)).toEqual([1]);
    expect(rows.filter((r) => r.labels['response_code'] === '403').map((r) => r.value)).toEqual([1]);
  });

  it('counts the retry and the pool overflow per cluster on the client', async () => {
    expect(await samples(client.telemetry.registry, 'meshlet_upstream_rq_retry_total')).toEqual([
      { labels: { cluster }, value: 1 },
    ]);
    expect(await samples(client.telemetry.registry, 'meshlet_upstream_rq_pending_overflow_total')).toEqual([
      { labels: { cluster }, value: 1 },
    ]);
  });

  it('measures request and response bytes on both sides without buffering', async () => {
    const count = async (t: MeshTelemetry, name: string) =>
      (await samples(t.registry, name)).filter((r) => r.labels['response_code'] === '200');
    for (const t of [server.telemetry, client.telemetry]) {
      const reqCount = await count(t, 'istio_request_bytes_count');
      expect(reqCount.map((r) => r.value)).toEqual([4]);
      const resSum = (await count(t, 'istio_response_bytes_sum'))[0]!.value;
      // Four responses, each a status line, headers and a 2-4 byte body.
      expect(resSum).toBeGreaterThan(4 * 40);
      const reqSum = (await count(t, 'istio_request_bytes_sum'))[0]!.value;
      expect(reqSum).toBeGreaterThan(4 * 30);
    }
  });

  it('writes one access log line per request on each side, with flags and details', () => {
    expect(server.lines).toHaveLength(7);
    expect(
      // Envoy's RBAC detail names istiod's policy id for the rule: ns[..]-policy[..]-rule[k].
      server.lines.some((l) =>
        / 403 - rbac_access_denied_matched_policy\[ns\[default\]-policy\[deny-admin\]-rule\[0\]\] /.test(l),
      ),
    ).toBe(true);
    expect(server.lines.some((l) => / 429 RL local_rate_limited /.test(l))).toBe(true);
    expect(server.lines.every((l) => l.includes(`inbound|${service.port}||`))).toBe(true);
    expect(client.lines).toHaveLength(7);
    expect(
      client.lines.some((l) => / 503 UO upstream_reset_before_response_started\{overflow\} /.test(l)),
    ).toBe(true);
    // Every call but the overflow reached the endpoint.
    expect(client.lines.filter((l) => l.includes(`"127.0.0.1:${service.port}" ${cluster}`))).toHaveLength(6);
  });

  it('exports istio_build{component="proxy"} = 1 as a sidecar does, its tag naming meshlet', async () => {
    const pkg = JSON.parse(
      await readFile(new URL('../../packages/core/package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    for (const t of [server.telemetry, client.telemetry]) {
      const text = await t.registry.metrics();
      expect(text).toContain('# TYPE istio_build gauge');
      expect(text).toContain(`istio_build{component="proxy",tag="meshlet-${pkg.version}"} 1`);
    }
  });

  it("passes promtool check metrics, apart from the unit lint on Istio's own metric name", async () => {
    for (const t of [server.telemetry, client.telemetry]) {
      const r = await promtool(await t.registry.metrics());
      expect(r.findings).toEqual([ISTIO_UNIT_LINT]);
      expect(r.code).toBe(3);
    }
  });
});
