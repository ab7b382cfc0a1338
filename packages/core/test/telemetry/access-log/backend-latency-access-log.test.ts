import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../../../src/index.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { listenLikeAdapters } from '../mesh-app.js';
import { loggingMesh, loopbackEntry } from './support.js';

// `response.backend_latency` (envoy context.cc BackendLatency): the last byte received from
// the upstream minus the first byte sent to it (`US_TX_BEG`, `US_RX_END` of
// %COMMON_DURATION%), the application being the upstream of an inbound request.

const tmp = useTmpDir();
const cleanup = useCleanup();

const FORMAT = '%CEL(response.backend_latency)% %COMMON_DURATION(US_TX_BEG:US_RX_END)% %UPSTREAM_CLUSTER%';

const get = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });

/** A loopback upstream answering `ok` after `ms` of the returned manual clock. */
async function slowUpstream(ms: number): Promise<{ clock: ManualClock; upstreamPort: number }> {
  const clock = createManualClock();
  const upstream = cleanup.server(
    createServer((_req, res) => {
      void clock.advance(ms).then(() => res.end('ok'));
    }),
  );
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  return { clock, upstreamPort: (upstream.address() as AddressInfo).port };
}

describe('response.backend_latency', () => {
  it("is the application's time on an inbound request and the answering try's on mesh.fetch", async () => {
    const { clock, upstreamPort } = await slowUpstream(40);
    const { mesh, lines } = await loggingMesh(
      await tmp(),
      `${istioConfigMap(`accessLogFile: /dev/stdout\naccessLogFormat: ${JSON.stringify(`${FORMAT}\n`)}`)}---
${loopbackEntry('up', 'up.example', upstreamPort)}`,
      { app: 'reviews' },
      { clock },
    );
    cleanup.mesh(mesh);
    const port = await listenLikeAdapters(mesh, (_req, res) => {
      void clock.advance(60).then(() => res.end('{}'));
    });
    expect(await get(port)).toBe(200);
    await linesBeyond(lines, 0);
    expect(lines[0]!.trim()).toBe(`60ms 60 inbound|${port}||`);
    expect(await (await mesh.fetch(`http://127.0.0.1:${upstreamPort}/`)).text()).toBe('ok');
    await linesBeyond(lines, 1);
    expect(lines[1]!.trim()).toBe('40ms 40 PassthroughCluster');
    // Through the router: from the answering try's start.
    expect(await (await mesh.fetch(`http://up.example:${upstreamPort}/`)).text()).toBe('ok');
    await linesBeyond(lines, 2);
    expect(lines[2]!.trim()).toBe(`40ms 40 outbound|${upstreamPort}||up.example`);
  });

  it('is in a metric tag that reads it on a routed call, with no access log', async () => {
    // CEL's string() of a duration is its seconds form (cel-spec: "0.025s").
    const { clock, upstreamPort } = await slowUpstream(25);
    const { mesh } = await loggingMesh(
      await tmp(),
      `${loopbackEntry('up', 'up.example', upstreamPort)}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: latency-tag, namespace: default }
spec:
  metrics:
  - providers: [{ name: prometheus }]
    overrides:
    - match: { metric: REQUEST_COUNT, mode: CLIENT }
      tagOverrides:
        backend_ms: { value: "string(response.backend_latency)" }
`,
      { app: 'reviews' },
      { clock },
    );
    cleanup.mesh(mesh);
    expect(await (await mesh.fetch(`http://up.example:${upstreamPort}/`)).text()).toBe('ok');
    const text = await mesh.metrics!.metrics();
    expect(text).toMatch(/istio_requests_total\{[^}]*backend_ms="0.025s"[^}]*\} 1/);
  });
});
