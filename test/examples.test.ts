import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

describe('examples and the installed CLI', () => {
  it('runs the Bookinfo demo end to end', async () => {
    const { stdout } = await run(process.execPath, ['examples/bookinfo/demo.js'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(stdout).toContain('✔ No validation issues found');
    expect(stdout).toMatch(/-> default\/reviews\/jason-sees-v2: v2 100%/);
    expect(stdout).toMatch(/-> default\/reviews\/canary-v3: v1 90%, v3 10%/);
    expect(stdout).toMatch(/reloaded \(config [0-9a-f]{16}\): v1 50%, v3 50%/);
    expect(stdout).toMatch(/bad update rejected: 3 is not a duration/);
    expect(stdout).toMatch(/still serving config [0-9a-f]{16}: v1 50%, v3 50%/);
    // Step 5: real services, each with its own mesh, over mTLS on loopback.
    expect(stdout).toContain(
      'productpage -> reviews as jason: 200 from v2, caller seen by reviews: cluster.local/ns/default/sa/bookinfo-productpage',
    );
    const split = /200 anonymous calls: v1 (\d+), v3 (\d+), v2 0/.exec(stdout);
    expect(split).not.toBeNull();
    expect(Number(split![1]) + Number(split![2])).toBe(200);
    expect(Number(split![2])).toBeGreaterThan(5); // 10% of 200, well inside random variation
    expect(Number(split![2])).toBeLessThan(45);
    // The source reporter's destination workloads, learnt by metadata exchange: the jason call
    // went to v2, the split's calls to v1 and v3.
    expect(stdout).toContain(
      `istio_requests_total{reporter="source"} by destination_workload: reviews-v1 ${split![1]}, reviews-v2 1, reviews-v3 ${split![2]}`,
    );
    expect(stdout).toContain('sleep -> reviews: 403 RBAC: access denied');
    expect(stdout).toMatch(/plaintext curl from outside the mesh: connection closed with no HTTP response/);
    // The ingress gateway (mesh.gateway()) in front of productpage, over mTLS with its identity.
    expect(stdout).toContain(
      `curl -H "Host: bookinfo.example.com" <ingress gateway>/productpage as jason: 200, reviews v2; productpage's caller: cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account`,
    );
    expect(stdout).toContain("the same host, path /: 404 (no route in the gateway's VirtualService)");
    // TCP: mesh.connect to mongodb's mesh.listenTcp over mTLS; the AuthorizationPolicy admits ratings v2 only.
    expect(stdout).toContain(
      'ratings v2 -> mongodb:27017 (mesh.connect, mTLS): {"ratings":{"Reviewer1":5},"caller":"cluster.local/ns/default/sa/bookinfo-ratings-v2"}',
    );
    expect(stdout).toContain(
      'reviews -> mongodb:27017: connection closed before any reply (rbac_access_denied_matched_policy[none]; only ratings v2 may connect)',
    );
    // Step 6: the same YAML in a mock mesh, on virtual time and a fixed seed.
    const mock =
      /jason -> reviews v2 -> ratings \(2 s fault delay\): 200 after 2000 virtual ms, (\d+) ms of wall time/.exec(
        stdout,
      );
    expect(mock).not.toBeNull();
    expect(Number(mock![1])).toBeLessThan(2000);
    expect(stdout).toContain('1000 anonymous calls: v1 903, v3 97, v2 0 (seed 1: the same every run)');
    expect(stdout).toMatch(/6\. The same YAML[^]*sleep -> reviews: 403 RBAC: access denied/);
    expect(stdout).toContain('a client without a sidecar, STRICT mTLS: ECONNRESET');
    expect(stdout).toContain(
      'curl -H "Host: bookinfo.example.com" $GATEWAY_URL/productpage as jason: 200, reviews v2, after 2000 virtual ms; x-forwarded-for at productpage: 203.0.113.10',
    );
    expect(stdout).toContain(
      'hop log, 1105 calls, first: default/reviews-v2 -> default/ratings-v1 200 (2000 ms); default/productpage-v1 -> default/reviews-v2 200 (2000 ms)',
    );
    // The mock mesh's TCP: mongodb as mm.tcpService under the same AuthorizationPolicy.
    expect(stdout).toContain(
      'ratings v2 -> mongodb:27017 (mm.tcpService, workload.connect): {"ratings":{"Reviewer1":5},"caller":"cluster.local/ns/default/sa/bookinfo-ratings-v2"}; reviews: connection closed before any reply',
    );
    expect(stdout).toContain(
      'istio_tcp_connections_opened_total at mongodb: 1 from ratings-v2 (TCP metadata exchange), 1 from reviews-v1 (refused)',
    );
  });

  it('exits 79 from the meshlet bin when analysis finds an error, with istioctl-style lines', async () => {
    const bin = path.join(root, 'packages/core/bin/meshlet.js');
    const err = await run(
      process.execPath,
      [bin, 'analyze', 'packages/core/test/cli/fixtures/missing-host.yaml'],
      { cwd: root },
    ).catch((e: { code: number; stdout: string }) => e);
    expect('code' in err ? err.code : 0).toBe(79);
    expect(err.stdout).toMatch(
      /^Error \[IST0101\] \(VirtualService default\/reviews .*missing-host\.yaml:\d+\) Referenced host not found: "reviews-nowhere"/m,
    );
  });
});
