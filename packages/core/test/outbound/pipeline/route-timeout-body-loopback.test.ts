import { setTimeout } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isMeshletError } from '../../../src/errors/meshlet-error.js';
import { createOutboundClient } from '../../../src/outbound/client.js';
import type { Transport } from '../../../src/outbound/transport.js';
import { createGotTransport } from '../../../src/outbound/transports/got-transport.js';
import { createUndiciTransport } from '../../../src/outbound/transports/undici-transport.js';
import { systemClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { httpServer, until, type Loopback } from '../transports/support/servers.js';
import { createFakeClusters } from './support/fake-clusters.js';
import { planOf } from './support/setup.js';

/** Timers keeping the event loop alive (unref'd ones are not listed). */
const refTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe.each([
  ['got', createGotTransport],
  ['undici', createUndiciTransport],
] as const)('route timeout over a streaming body, %s transport', (_name, create) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('resets the upstream stream and fails the body at the route timeout', async () => {
    let serverSawClose = false;
    const server: Loopback = await httpServer((_req, res) => {
      res.on('close', () => (serverSawClose = !res.writableFinished));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part;');
    });
    cleanup.push(() => server.close());
    const transport: Transport = create();
    cleanup.push(() => transport.close());
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - route: [{ destination: { host: echo } }]
    timeout: 300ms
`;
    const plan = planOf([yaml], { echo: [{ address: '127.0.0.1', port: server.port }] });
    const client = createOutboundClient({
      getPlan: () => plan,
      clusters: createFakeClusters(),
      transport,
      clock: systemClock,
      random: seededRandom(1),
    });
    const timersBefore = refTimers();
    const started = performance.now();
    const res = await client.fetch(`http://echo:${server.port}/`);
    expect(res.status).toBe(200);
    // The body's route timer does not keep the process alive.
    expect(refTimers()).toBeLessThanOrEqual(timersBefore);
    const err: unknown = await Promise.race([
      res.text().catch((e: unknown) => e),
      setTimeout(2000, 'still streaming'),
    ]);
    expect(isMeshletError(err) && err.code).toBe('MESHLET_ERR_OUTBOUND_ROUTE_TIMEOUT');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    await until(() => serverSawClose);
  });
});
