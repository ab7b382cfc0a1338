import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

// DestinationRule connectionPool.tcp settings through createMesh to a real upstream, as
// istio cluster_traffic_policy.go applyConnectionPool hands them to Envoy's cluster:
// maxConnectionDuration, and tcp.idleTimeout standing in for an unset http.idleTimeout.

const tmp = useTmpDir();
const open: Mesh[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An upstream answering `ok`, with the connection of every request and the connections open now. */
async function upstream() {
  const used: Socket[] = [];
  const live = new Set<Socket>();
  const server = createServer((req, res) => {
    used.push(req.socket);
    res.end('ok');
  });
  // Node's 5 s default would make the client close at its hint (undici does) and hide ours.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    live.add(s);
    s.once('close', () => live.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, used, live };
}

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(['got', 'undici'] as const)('DestinationRule connectionPool.tcp over %s', (transport) => {
  async function mesh(port: number, tcp: string): Promise<Mesh> {
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'config.yaml'),
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec:
  host: api.example.com
  trafficPolicy: { connectionPool: { tcp: ${tcp} } }
`,
    );
    const m = await createMesh({
      config: dir,
      workload: { name: 'app', namespace: 'default', serviceAccount: 'app', labels: { app: 'app' } },
      transport,
    });
    open.push(m);
    return m;
  }

  it('maxConnectionDuration: no call goes on a connection older than it', async () => {
    const up = await upstream();
    const m = await mesh(up.port, '{ maxConnections: 1, maxConnectionDuration: 300ms }');
    const call = async () => (await m.fetch('http://api.example.com/')).text();
    expect(await call()).toBe('ok');
    expect(await call()).toBe('ok');
    expect(up.used[1]).toBe(up.used[0]);
    await new Promise((r) => setTimeout(r, 400));
    expect(await call()).toBe('ok');
    expect(up.used[2]).not.toBe(up.used[0]);
  });

  it('tcp.idleTimeout closes an idle connection when http.idleTimeout is unset', async () => {
    const up = await upstream();
    const m = await mesh(up.port, '{ idleTimeout: 200ms }');
    expect(await (await m.fetch('http://api.example.com/')).text()).toBe('ok');
    await until(() => up.used.length === 1 && up.live.size === 0, 1_500);
  });
});
