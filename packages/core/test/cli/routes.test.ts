import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runRoutes } from '../../src/cli/routes.js';
import type { CliIO } from '../../src/cli/io.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SAMPLES = path.resolve(here, '../../../..', '../shared/istio-samples');

function fakeIO(color = false): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    color,
    cwd: SAMPLES,
    out: () => out,
    err: () => err,
  };
}

const bookinfo = [
  'bookinfo-platform/bookinfo.yaml',
  'bookinfo-networking/destination-rule-all.yaml',
  'bookinfo-networking/virtual-service-reviews-jason-v2-v3.yaml',
  'bookinfo-networking/virtual-service-ratings-test-delay.yaml',
];

describe('runRoutes', () => {
  it('prints the Bookinfo route table for productpage in match order with a fallback row', async () => {
    const io = fakeIO();
    const code = await runRoutes(
      [...bookinfo, '--workload', 'default/productpage-v1:app=productpage,version=v1'],
      io,
    );
    expect(code).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^NAME\s+VHOST NAME\s+DOMAINS\s+MATCH\s+DESTINATION\s+TIMEOUT\s+RETRIES\s+FAULT\s+VIRTUAL SERVICE$/,
    );
    const reviews = lines.filter((l) => l.includes('reviews.default:9080 '));
    expect(reviews).toHaveLength(2);
    expect(reviews[0]).toMatch(
      /header end-user exact "jason"\s+reviews\.default:9080\|v2 100%.*reviews\.default$/,
    );
    expect(reviews[1]).toMatch(/\/\*\s+reviews\.default:9080\|v3 100%/);
    expect(lines.find((l) => l.startsWith('9080') && l.includes('ratings') && l.includes('jason'))).toMatch(
      /delay 7000ms 100%/,
    );
    expect(lines.find((l) => l.includes('details.default:9080'))).toMatch(/\(default\)$/);
    expect(lines.at(-1)).toMatch(/^\*\s+fallback\s+\*\s+\/\*\s+PassthroughCluster/);
    expect(io.out()).not.toContain('\u001b[');
  });

  it('colours the table only when io.color is set', async () => {
    const io = fakeIO(true);
    await runRoutes([...bookinfo, '--workload', 'default/productpage-v1'], io);
    expect(io.out()).toContain('\u001b[36mreviews.default\u001b[0m');
  });

  it('prints JSON with -o json', async () => {
    const io = fakeIO();
    expect(await runRoutes([...bookinfo, '-w', 'default/productpage-v1', '-o', 'json'], io)).toBe(0);
    const view = JSON.parse(io.out()) as {
      virtualHosts: {
        name: string;
        routes: { id: string; destinations: { subset: string; weight: number }[] }[];
      }[];
    };
    const reviews = view.virtualHosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080');
    expect(reviews?.routes.map((r) => [r.id, r.destinations[0]?.subset])).toEqual([
      ['default/reviews/0', 'v2'],
      ['default/reviews/1', 'v3'],
    ]);
  });

  it.each([
    [['--workload', 'default/x'], 'file or directory'],
    [['bookinfo-platform'], '--workload'],
    [['bookinfo-platform', '--workload', 'no-slash'], '<namespace>/<name>'],
    [['bookinfo-platform', '--workload', 'default/x', '-o', 'yaml'], 'unsupported output'],
    [['bookinfo-platform', '--bogus'], 'unknown option'],
  ])('exits 64 on usage error %j', async (argv, message) => {
    const io = fakeIO();
    expect(await runRoutes(argv, io)).toBe(64);
    expect(io.err()).toContain(message);
  });

  it('prints help with --help', async () => {
    const io = fakeIO();
    expect(await runRoutes(['--help'], io)).toBe(0);
    expect(io.out()).toContain('meshlet routes <file|dir>');
  });

  it('exits 65 and prints each load error when the configuration is invalid', async () => {
    const io = fakeIO();
    const code = await runRoutes(['validation', '--workload', 'default/x'], io);
    expect(code).toBe(65);
    expect(io.err()).toMatch(/validation\/.+\.yaml:\d+/);
  });
});

describe('runRoutes for an ingress gateway', () => {
  // istioctl proxy-config routes on a gateway lists its gateway route tables, named
  // `http.<port>` (HTTPS servers `https.<port>.<port name>.<gateway>.<namespace>`).
  it('lists the routes of the VirtualServices bound to its Gateway, named http.<port>, 404 NR past them', async () => {
    const io = fakeIO();
    const code = await runRoutes(
      [
        'bookinfo-platform/bookinfo.yaml',
        'bookinfo-networking/bookinfo-gateway.yaml',
        '--workload',
        'istio-system/istio-ingressgateway:istio=ingressgateway',
      ],
      io,
    );
    expect(code).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    const gateway = lines.filter((l) => l.startsWith('http.8080'));
    expect(gateway).toHaveLength(2);
    expect(gateway[0]).toMatch(
      /^http\.8080\s+\*:8080\s+\*\s+uri exact "\/productpage" OR uri prefix "\/static".*productpage\.default:9080 100%.*bookinfo\.default$/,
    );
    expect(gateway[1]).toMatch(/^http\.8080\s+\*:8080\s+\*\s+\(anything else\)\s+404 NR/);
  });

  it('names an HTTPS server https.<port>.<port name>.<gateway>.<namespace>, and an httpsRedirect HTTP one http.<port>', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-routes-'));
    try {
      await writeFile(
        path.join(dir, 'gw.yaml'),
        `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: shop, namespace: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [shop.example.com]
    tls: { httpsRedirect: true }
  - port: { number: 443, name: https-shop, protocol: HTTPS }
    hosts: [shop.example.com]
    tls: { mode: SIMPLE, credentialName: shop-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: edge }
spec:
  hosts: [shop.example.com]
  gateways: [shop]
  http: [{ route: [{ destination: { host: shop.edge.svc.cluster.local, port: { number: 80 } } }] }]
`,
      );
      const io = fakeIO();
      expect(await runRoutes([dir, '--workload', 'edge/ingress:istio=ingressgateway'], io)).toBe(0);
      const names = io
        .out()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]);
      expect(names).toContain('http.80');
      expect(names).toContain('https.443.https-shop.shop.edge');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
