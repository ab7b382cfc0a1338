import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOutboundClient, type OutboundClient } from '../../../src/outbound/client.js';
import type { Transport, TransportTls } from '../../../src/outbound/transport.js';
import { createGotTransport } from '../../../src/outbound/transports/got-transport.js';
import { createUndiciTransport } from '../../../src/outbound/transports/undici-transport.js';
import { systemClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { createTestPki } from '../transports/support/certs.js';
import { createFakeClusters } from './support/fake-clusters.js';
import { planOf } from './support/setup.js';

/**
 * Envoy arms the per-try timer when the pool hands the try a ready connection
 * (upstream_request.cc onPoolReady → setupPerTryTimeout, or router.cc onRequestComplete
 * if the request is still arriving): connect and TLS handshake time do not count. Only
 * the route timeout and the cluster's connect timeout bound them.
 */

const pki = createTestPki();
const leaf = pki.issue({ dns: ['echo.test'], ip: ['127.0.0.1'] });
const tls: TransportTls = { ca: pki.ca, cert: null, key: null, servername: 'echo.test', verifyPeer: null };

/** A TLS server that starts each new connection's handshake `handshakeDelayMs` late; answers after `answerDelayMs`. */
const delays = { handshake: 0, answer: 0 };
const https = createHttpsServer({ key: leaf.key, cert: leaf.cert }, (_req, res) => {
  setTimeout(() => res.end('ok'), delays.answer);
});
const sockets = new Set<Socket>();
const handshakes = new Set<NodeJS.Timeout>();
const front = createNetServer((socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.pause();
  const t = setTimeout(() => {
    handshakes.delete(t);
    https.emit('connection', socket);
  }, delays.handshake);
  handshakes.add(t);
});
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  port = (front.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => front.close(() => resolve()));
});

describe.each([
  ['got', createGotTransport],
  ['undici', createUndiciTransport],
] as const)('per-try timeout from pool ready, %s transport', (_name, create) => {
  const transports: Transport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) await t.close();
    for (const t of handshakes) clearTimeout(t);
    handshakes.clear();
    for (const s of sockets) s.destroy();
  });

  function client(rule: string, policy = ''): OutboundClient {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - route: [{ destination: { host: echo } }]
${rule}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: echo
  trafficPolicy: { tls: { mode: DISABLE }${policy} }
`;
    const plan = planOf([yaml], { echo: [{ address: '127.0.0.1', port }] });
    const transport = create();
    transports.push(transport);
    return createOutboundClient({
      getPlan: () => plan,
      clusters: createFakeClusters(),
      transport,
      clock: systemClock,
      random: seededRandom(1),
      tlsFor: () => tls,
    });
  }

  async function timed(c: OutboundClient): Promise<[number, readonly string[], number]> {
    const started = performance.now();
    const res = await c.fetch(`http://echo:${port}/`);
    await res.text();
    return [res.status, res.meshlet.flags, performance.now() - started];
  }

  it('does not count a slow handshake against perTryTimeout, and times a reused connection from the start', async () => {
    const c = client('    retries: { attempts: 1, perTryTimeout: 100ms }\n');
    Object.assign(delays, { handshake: 300, answer: 0 });
    const [status, flags, ms] = await timed(c);
    expect([status, flags]).toEqual([200, []]);
    expect(ms).toBeGreaterThanOrEqual(290);
    // The same connection again: ready at once, so the per-try timeout covers the wait.
    Object.assign(delays, { handshake: 0, answer: 300 });
    const [late, lateFlags, lateMs] = await timed(c);
    expect([late, lateFlags]).toEqual([504, ['UT']]);
    expect(lateMs).toBeLessThan(250);
  });

  it('leaves a slow connect to the DestinationRule connectTimeout (503 UF)', async () => {
    // A retryOn that retries neither a connect failure nor a per-try timeout: one try.
    const c = client(
      '    retries: { attempts: 1, perTryTimeout: 100ms, retryOn: retriable-4xx }\n',
      ', connectionPool: { tcp: { connectTimeout: 200ms } }',
    );
    // undici times connects on its coarse (~0.5 s) timers: the handshake is slower still.
    Object.assign(delays, { handshake: 3000, answer: 0 });
    const [status, flags, ms] = await timed(c);
    expect([status, flags]).toEqual([503, ['UF']]);
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(2500);
  });

  it('leaves a slow connect to the route timeout (504 UT at the route timeout)', async () => {
    const c = client('    timeout: 250ms\n    retries: { attempts: 1, perTryTimeout: 100ms }\n');
    Object.assign(delays, { handshake: 500, answer: 0 });
    const [status, flags, ms] = await timed(c);
    expect([status, flags]).toEqual([504, ['UT']]);
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(450);
  });
});
