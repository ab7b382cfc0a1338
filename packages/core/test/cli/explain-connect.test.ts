import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectExplanation } from '../../src/cli/explain-connect.js';
import { runExplain } from '../../src/cli/explain.js';
import { CNN, THROUGH_EGRESS } from '../helpers/egress-gateway-task.js';
import { SAMPLES } from '../helpers/tmp.js';
import { captureIO, tempFiles } from './support.js';

// meshlet explain --connect: where mesh.connect sends a TCP connection, as the sidecar's
// tcp_proxy chain decides it (a VirtualService tcp route whose match holds for the
// workload, else the service port's default cluster), with Istio's tcp-echo samples.

const SLEEP = ['--workload', 'default/sleep:app=sleep', '--service-account', 'sleep'];
const SERVICES = path.join(SAMPLES, 'tcp-echo/tcp-echo-services.yaml');
const SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo, namespace: default }
spec:
  host: tcp-echo
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo, namespace: default }
spec:
  hosts: [tcp-echo]
  tcp:
  - match: [{ port: 9000, sourceLabels: { app: sleep } }]
    route:
    - { destination: { host: tcp-echo, port: { number: 9000 }, subset: v1 }, weight: 80 }
    - { destination: { host: tcp-echo, port: { number: 9000 }, subset: v2 }, weight: 20 }
`;

async function explain(argv: string[]) {
  const io = captureIO();
  const code = await runExplain(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('meshlet explain --connect', () => {
  it("names the tcp route that applies to this workload and each weighted destination's cluster", async () => {
    const dir = tempFiles({ 'vs.yaml': SUBSETS });
    const r = await explain([SERVICES, dir, ...SLEEP, '--connect', 'tcp-echo:9000']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('Connection    tcp tcp-echo:9000 from default/sleep');
    expect(lines[1]).toBe(
      'Result        tcp_proxy by VirtualService tcp-echo.default tcp route default/tcp-echo/tcp/0',
    );
    expect(lines[2]).toBe('TCP route     default/tcp-echo/tcp/0 (VirtualService tcp-echo.default)');
    expect(lines.filter((l) => l.startsWith('Destination'))).toEqual([
      'Destination   80% tcp-echo.default.svc.cluster.local:9000 subset v1 {version:v1} → outbound|9000|v1|tcp-echo.default.svc.cluster.local (0 endpoints)',
      'Destination   20% tcp-echo.default.svc.cluster.local:9000 subset v2 {version:v2} → outbound|9000|v2|tcp-echo.default.svc.cluster.local (0 endpoints)',
    ]);
  });

  it("uses the port's default cluster where the match does not hold, and says where other hosts go (JSON)", async () => {
    const dir = tempFiles({ 'vs.yaml': SUBSETS });
    const other = await explain([
      SERVICES,
      dir,
      '--workload',
      'default/curl:app=curl',
      '--connect',
      'tcp-echo:9000',
      '-o',
      'json',
    ]);
    const e = JSON.parse(other.out) as ConnectExplanation;
    expect(e.route).toEqual({ kind: 'tcp', id: null, virtualService: null });
    expect(e.destinations.map((d) => d.cluster)).toEqual([
      'outbound|9000||tcp-echo.default.svc.cluster.local',
    ]);
    const outside = JSON.parse(
      (await explain([SERVICES, ...SLEEP, '--connect', 'db.example.com:5432', '-o', 'json'])).out,
    ) as ConnectExplanation;
    expect(outside.outcome).toMatch(/^connects directly: .*PassthroughCluster/);
    const bad = await explain([SERVICES, ...SLEEP, '--connect', 'tcp-echo']);
    expect(bad.code).toBe(64);
    expect(bad.err).toContain('--connect must look like <host>:<port>');
  });

  it('matches a TLS port by the SNI (default: the host): the tls rule, or the PassthroughFilterChain', async () => {
    // The egress gateway task without the gateway's Service: its clusters are unknown here.
    const dir = tempFiles({ 'cnn.yaml': CNN, 'egress.yaml': THROUGH_EGRESS });
    const r = await explain([dir, ...SLEEP, '--connect', 'edition.cnn.com:443']);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n').slice(0, 3)).toEqual([
      'Connection    tcp edition.cnn.com:443 from default/sleep, SNI edition.cnn.com',
      "Result        refused: the route's clusters are unknown to the registry (NC)",
      'TLS route     default/direct-cnn-through-egress-gateway/tls/0 (VirtualService direct-cnn-through-egress-gateway.default)',
    ]);
    const other = JSON.parse(
      (
        await explain([
          dir,
          ...SLEEP,
          '--connect',
          'edition.cnn.com:443',
          '--sni',
          'www.cnn.com',
          '-o',
          'json',
        ])
      ).out,
    ) as ConnectExplanation;
    expect([other.sni, other.route, other.outcome]).toEqual([
      'www.cnn.com',
      null,
      'connects directly: no filter chain of the TLS listener takes SNI www.cnn.com (PassthroughCluster, ALLOW_ANY)',
    ]);
  });
});
