import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../src/index.js';
import { istioConfigMap } from '../helpers/istio-config-map.js';
import { lineCollector } from '../helpers/line-collector.js';
import { useTmpDir } from '../helpers/tmp.js';
import { useCleanup } from '../helpers/cleanup.js';

const tmp = useTmpDir();
const cleanup = useCleanup();

/** A loopback server that answers with the client address it saw, `ip:port`. */
async function echoPeer(): Promise<number> {
  const server = createServer((req, res) => res.end(`${req.socket.remoteAddress}:${req.socket.remotePort}`));
  cleanup.server(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** JSON access logs; a ServiceEntry `echo.local` with one static endpoint on `port`. */
async function meshFor(port: number, lines: string[]): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `${istioConfigMap('accessLogFile: /dev/stdout\naccessLogEncoding: JSON')}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.local]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1 }]
`,
  );
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'front-v1', namespace: 'default', serviceAccount: 'front', labels: { app: 'front' } },
    telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
  });
  cleanup.mesh(mesh);
  return mesh;
}

describe('outbound access log: %UPSTREAM_LOCAL_ADDRESS%', () => {
  it('is the local address of the connection that carried the call, as the upstream saw it (got transport)', async () => {
    const port = await echoPeer();
    const lines: string[] = [];
    const mesh = await meshFor(port, lines);
    // Through a ServiceEntry cluster, then through the PassthroughCluster.
    const routed = await (await mesh.fetch(`http://echo.local:${port}/`)).text();
    const passthrough = await (await mesh.fetch(`http://127.0.0.1:${port}/`)).text();
    await mesh.telemetry!.accessLog.client.flush();
    const logged = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .map((e) => [e['upstream_cluster'], e['upstream_local_address']]);
    expect(logged).toEqual([
      [`outbound|${port}||echo.local`, routed],
      ['PassthroughCluster', passthrough],
    ]);
    expect(routed).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
