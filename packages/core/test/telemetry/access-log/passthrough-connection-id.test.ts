import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { loggingMesh } from './support.js';

const tmp = useTmpDir();
const cleanup = useCleanup();

// envoy stream_info_formatter.cc: %UPSTREAM_CONNECTION_ID% is the id of the connection the
// request went out on, whatever the cluster; 0 only when there was none.
describe('outbound access log: %UPSTREAM_CONNECTION_ID% through the PassthroughCluster', () => {
  it('names the connection a passthrough call used, the same one for a keep-alive reuse', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    cleanup.server(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dir = await tmp();
    const { mesh, lines } = await loggingMesh(
      dir,
      istioConfigMap(
        'accessLogFile: /dev/stdout\naccessLogFormat: "%UPSTREAM_CLUSTER% %UPSTREAM_CONNECTION_ID%\\n"',
      ),
      { app: 'front' },
    );
    cleanup.mesh(mesh);
    await (await mesh.fetch(`http://127.0.0.1:${port}/`)).text();
    await (await mesh.fetch(`http://127.0.0.1:${port}/`)).text();
    await mesh.telemetry!.accessLog.client.flush();
    const [first, second] = lines.map((l) => l.trim().split(' '));
    expect(first?.[0]).toBe('PassthroughCluster');
    expect(Number(first?.[1])).toBeGreaterThan(0);
    expect(second).toEqual(first);
  });
});
