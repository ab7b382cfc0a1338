import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import type { MeshPlan } from '../../src/compile/plan-types.js';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadConfigText } from '../../src/config/load.js';
import { SAMPLES } from '../helpers/tmp.js';
import { runProxyConfig } from '../../src/cli/proxy-config.js';
import { createClusterManager } from '../../src/outbound/upstream/cluster-manager.js';
import type { ClusterManager } from '../../src/outbound/upstream/types.js';
import { createManualClock } from '../../src/runtime/clock.js';
import { seededRandom } from '../../src/runtime/random.js';
import { bookinfoPlan, HTTPBIN_CLUSTER, httpbinPlan, PRODUCTPAGE } from '../admin/support.js';
import { captureIO } from './support.js';

const servers: AdminServer[] = [];
const managers: ClusterManager[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const m of managers.splice(0)) m.close();
});

async function adminFor(plan: MeshPlan, clusters?: ClusterManager): Promise<string> {
  const s = createAdminServer({
    getPlan: () => plan,
    getConfig: () => ({ hash: '0123456789abcdef', loadedAt: Date.now(), files: [] }),
    serverInfo: { version: '0.1.0', workload: PRODUCTPAGE, startedAt: Date.now() },
    ...(clusters === undefined ? {} : { clusters }),
  });
  servers.push(s);
  return `http://127.0.0.1:${(await s.listen()).port}`;
}

const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

describe('meshlet proxy-config', () => {
  it('prints routes with istioctl columns from /config_dump, in match order', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['routes', await adminFor(bookinfoPlan())], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^NAME\s+VHOST NAME\s+DOMAINS\s+MATCH\s+DESTINATION\s+TIMEOUT\s+RETRIES\s+FAULT\s+VIRTUAL SERVICE$/,
    );
    const reviews = lines.filter((l) => l.includes('reviews.default:9080 '));
    expect(reviews[0]).toMatch(
      /^9080\s+reviews\.default:9080\s+reviews \+ \d+ more\.\.\.\s+header end-user exact "jason"\s+reviews\.default:9080\|v2 100%.*reviews\.default$/,
    );
    expect(reviews[1]).toMatch(/\/\*\s+reviews\.default:9080\|v3 100%/);
    expect(lines.at(-1)).toMatch(/^\*\s+fallback\s+\*\s+\/\*\s+PassthroughCluster/);
  });

  it('prints clusters with SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['clusters', await adminFor(bookinfoPlan())], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE$/);
    const reviews = lines.filter((l) => l.startsWith('reviews.default.svc.cluster.local '));
    expect(reviews.map((l) => l.split(/\s+/).slice(1).join(' '))).toEqual([
      '9080 - outbound EDS reviews.default',
      '9080 v1 outbound EDS reviews.default',
      '9080 v2 outbound EDS reviews.default',
      '9080 v3 outbound EDS reviews.default',
    ]);
    expect(lines).toContainEqual(expect.stringMatching(/^BlackHoleCluster\s+-\s+-\s+-\s+STATIC\s+-$/));
  });

  it('prints endpoints HEALTHY with OUTLIER CHECK OK when the cluster has no outlierDetection', async () => {
    const plan = bookinfoPlan();
    const manager = createClusterManager({ clock: createManualClock(), random: seededRandom(3) });
    managers.push(manager);
    // reviews has no outlierDetection in destination-rule-all.yaml: a host is never ejected there.
    const upstream = manager.get(plan.outbound.cluster(V2)!);
    upstream.record(upstream.hosts()[0]!, { kind: 'response', status: 503 });
    const io = captureIO();
    expect(await runProxyConfig(['endpoints', await adminFor(plan, manager)], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ENDPOINT\s+STATUS\s+OUTLIER CHECK\s+CLUSTER$/);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^10\\.1\\.0\\.2:9080\\s+HEALTHY\\s+OK\\s+${V2.replace(/\|/g, '\\|')}$`),
      ),
    );
  });

  it('reports OUTLIER CHECK FAILED while outlier detection holds a host out (Istio circuit-breaking task)', async () => {
    const plan = httpbinPlan();
    const manager = createClusterManager({ clock: createManualClock(), random: seededRandom(3) });
    managers.push(manager);
    const upstream = manager.get(plan.outbound.cluster(HTTPBIN_CLUSTER)!);
    upstream.record(upstream.hosts()[0]!, { kind: 'response', status: 502 });
    const io = captureIO();
    expect(await runProxyConfig(['endpoints', await adminFor(plan, manager)], io)).toBe(0);
    const rows = io
      .out()
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/));
    expect(rows).toEqual([
      ['10.0.0.1:8080', 'HEALTHY', 'FAILED', HTTPBIN_CLUSTER],
      ['10.0.0.2:8080', 'HEALTHY', 'OK', HTTPBIN_CLUSTER],
    ]);
  });

  it('exits 1 naming the URL when the admin server cannot be reached', async () => {
    const url = await adminFor(bookinfoPlan());
    await servers[0]!.close();
    const io = captureIO();
    expect(await runProxyConfig(['clusters', url], io)).toBe(1);
    expect(io.err()).toContain(`cannot read ${url}`);
  });

  it('exits 64 for an unknown type', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['bootstrap', 'http://127.0.0.1:1'], io)).toBe(64);
    expect(io.err()).toContain(
      'give a type: routes, clusters, endpoints, listeners, secret (got "bootstrap")',
    );
  });
});

const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway' },
};

describe('meshlet proxy-config listeners', () => {
  // The ingress gateway of three istio.io tasks at once: Bookinfo's HTTP server, an HTTPS
  // server terminating TLS for one host, tcp-echo's TCP server at 80/20 (traffic shifting)
  // and an SNI passthrough server (ingress-sni-passthrough).
  const extra = `apiVersion: v1
kind: Service
metadata: { name: my-nginx, namespace: default }
spec: { ports: [{ name: https, port: 443 }] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https-secure, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: secure-cert }
    hosts: [secure.example.com]
  - port: { number: 8443, name: tls-pass, protocol: TLS }
    tls: { mode: PASSTHROUGH }
    hosts: [nginx.example.com, "*.wild.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: nginx, namespace: default }
spec:
  hosts: [nginx.example.com, "*.wild.example.com"]
  gateways: [edge]
  tls:
  - match: [{ port: 8443, sniHosts: [nginx.example.com] }]
    route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
  - match: [{ port: 8443, sniHosts: ["*.wild.example.com"] }]
    route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
`;
  const gatewayPlan = (): MeshPlan => {
    const read = (f: string) => ({ file: f, text: readFileSync(path.join(SAMPLES, f), 'utf8') });
    const snap = loadConfigText([
      read('bookinfo-platform/bookinfo.yaml'),
      read('bookinfo-networking/bookinfo-gateway.yaml'),
      read('tcp-echo/tcp-echo-services.yaml'),
      // tcp-echo-all-v1.yaml's Gateway and DestinationRule, without its VirtualService.
      {
        ...read('tcp-echo/tcp-echo-all-v1.yaml'),
        text: read('tcp-echo/tcp-echo-all-v1.yaml')
          .text.split(/^---$/m)
          .filter((d) => !d.includes('kind: VirtualService'))
          .join('---'),
      },
      read('tcp-echo/tcp-echo-20-v2.yaml'),
      { file: 'edge.yaml', text: extra },
    ]);
    expect(snap.diagnostics.filter((d) => d.level === 'Error')).toEqual([]);
    return compilePlan(snap, INGRESS);
  };

  it("prints each server's listener chain with istioctl's columns, and -o json", async () => {
    const url = await adminFor(gatewayPlan());
    const io = captureIO();
    expect(await runProxyConfig(['listeners', url], io)).toBe(0);
    const rows = io
      .out()
      .trimEnd()
      .split('\n')
      .map((l) => l.trim().split(/\s{2,}/));
    expect(rows).toEqual([
      ['ADDRESS', 'PORT', 'MATCH', 'DESTINATION'],
      ['0.0.0.0', '443', 'SNI: secure.example.com', 'Route: https.443.https-secure.edge.default'],
      ['0.0.0.0', '8080', 'ALL', 'Route: http.8080'],
      [
        '0.0.0.0',
        '8443',
        'SNI: nginx.example.com',
        'Cluster: outbound|443||my-nginx.default.svc.cluster.local',
      ],
      [
        '0.0.0.0',
        '8443',
        'SNI: *.wild.example.com',
        'Cluster: outbound|443||my-nginx.default.svc.cluster.local',
      ],
      [
        '0.0.0.0',
        '31400',
        'ALL',
        'WeightedClusters: outbound|9000|v1|tcp-echo.default.svc.cluster.local 80%, outbound|9000|v2|tcp-echo.default.svc.cluster.local 20%',
      ],
    ]);
    const json = captureIO();
    expect(await runProxyConfig(['listeners', url, '-o', 'json'], json)).toBe(0);
    expect(JSON.parse(json.out())).toContainEqual({
      address: '0.0.0.0',
      port: 31400,
      match: 'ALL',
      destination: expect.stringMatching(/^WeightedClusters: /) as unknown,
    });
  });

  it('prints the outbound route ports of a workload beside a sidecar, then its virtual inbound chains', async () => {
    const io = captureIO();
    expect(await runProxyConfig(['listeners', await adminFor(bookinfoPlan())], io)).toBe(0);
    // productpage: no PeerAuthentication (PERMISSIVE), its Service's port 9080 named http.
    expect(
      io
        .out()
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s{2,}/)),
    ).toEqual([
      ['0.0.0.0', '9080', 'ALL', 'Route: 9080'],
      ['0.0.0.0', '15006', 'Addr: *:15006', 'Non-HTTP/Non-TCP'],
      [
        '0.0.0.0',
        '15006',
        'Trans: tls; App: istio-http/1.0,istio-http/1.1,istio-h2',
        'InboundPassthroughCluster',
      ],
      ['0.0.0.0', '15006', 'Trans: raw_buffer; App: http/1.1,h2c', 'InboundPassthroughCluster'],
      ['0.0.0.0', '15006', 'Trans: tls; App: TCP TLS', 'InboundPassthroughCluster'],
      ['0.0.0.0', '15006', 'Trans: raw_buffer', 'InboundPassthroughCluster'],
      ['0.0.0.0', '15006', 'Trans: tls', 'InboundPassthroughCluster'],
      [
        '0.0.0.0',
        '15006',
        'Trans: tls; App: istio,istio-peer-exchange,istio-http/1.0,istio-http/1.1,istio-h2; Addr: *:9080',
        'Cluster: inbound|9080||',
      ],
      ['0.0.0.0', '15006', 'Trans: raw_buffer; Addr: *:9080', 'Cluster: inbound|9080||'],
    ]);
  });
});
