import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { meshClient, tlsGet } from '../../inbound/server/support.js';
import { loggingMesh, loopbackEntry, servingReviews } from '../access-log/support.js';
import { samples } from '../metrics-support.js';

// istio_stats evaluates tagOverrides over the request's whole stream info, the same
// activation the CEL access-log filter reads (envoy filters/common/expr/evaluator.cc
// StreamActivation; istio/proxy istio_stats.cc): the downstream TLS connection, the
// upstream endpoint, sizes. Real mTLS on loopback, real servers, the metrics registry read back.

const tmp = useTmpDir();
const cleanup = useCleanup();

const telemetry = (
  mode: 'SERVER' | 'CLIENT',
  tags: Readonly<Record<string, string>>,
): string => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT, mode: ${mode} }
      tagOverrides:
${Object.entries(tags)
  .map(([k, v]) => `        ${k}: { value: ${JSON.stringify(v)} }`)
  .join('\n')}
`;

describe('tagOverrides read the attributes the metric event does not carry', () => {
  it("labels an inbound request with its mTLS peer's URI SAN and the TLS version", async () => {
    const yaml = telemetry('SERVER', {
      peer_san: 'connection.uri_san_peer_certificate',
      tls: 'connection.tls_version',
      head: 'string(request.headers_bytes > 0)',
    });
    const { mesh, port } = await servingReviews(await tmp(), yaml, (m) => cleanup.mesh(m));
    expect((await tlsGet(port, await meshClient('default', 'sleep'))).status).toBe(200);
    const rows = (await samples(mesh.metrics!, 'istio_requests_total')).filter(
      (r) => r.labels['reporter'] === 'destination',
    );
    expect(rows.map((r) => [r.labels['peer_san'], r.labels['tls'], r.labels['head'], r.value])).toEqual([
      ['spiffe://cluster.local/ns/default/sa/sleep', 'TLSv1.3', 'true', 1],
    ]);
  });

  it("labels an outbound call with its endpoint's zone and address", async () => {
    const server = cleanup.server(createServer((_req, res) => res.end('hi')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const upstream = (server.address() as AddressInfo).port;
    const yaml = `${telemetry('CLIENT', { zone: 'upstream.locality.zone', peer: 'upstream.address' })}---
${loopbackEntry('echo', 'echo.local', upstream, 'locality: us-east1/us-east1-b/rack1')}
`;
    const { mesh } = await loggingMesh(await tmp(), yaml, { app: 'front' });
    cleanup.mesh(mesh);
    expect(await (await mesh.fetch(`http://echo.local:${upstream}/`)).text()).toBe('hi');
    const rows = (await samples(mesh.metrics!, 'istio_requests_total')).filter(
      (r) => r.labels['reporter'] === 'source',
    );
    expect(rows.map((r) => [r.labels['zone'], r.labels['peer']])).toEqual([
      ['us-east1-b', `127.0.0.1:${upstream}`],
    ]);
  });
});
