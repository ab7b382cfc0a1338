import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { MeshPlan } from '../../../src/compile/plan-types.js';
import {
  certSourceFor,
  httpbin,
  meshClient,
  planFor,
  plainGet,
  sampleText,
  startServer,
  tlsGet,
  type ClientTls,
  type Doc,
} from './support.js';

type Client = { name: string; tls: ClientTls | null };

/** istio.io "Mutual TLS Migration": can each client reach httpbin in foo and bar? */
async function matrix(
  clients: readonly Client[],
  servers: Readonly<Record<string, number>>,
): Promise<string[]> {
  const rows: string[] = [];
  for (const c of clients) {
    for (const [server, port] of Object.entries(servers)) {
      const reply = c.tls === null ? plainGet(port) : tlsGet(port, c.tls);
      const code = await reply.then(
        (r) => String(r.status),
        () => '000',
      );
      rows.push(`${c.name} to ${server}: ${code}`);
    }
  }
  return rows;
}

describe('mTLS migration (istio.io tasks/security/authentication/mtls-migration)', () => {
  it('moves from PERMISSIVE to namespace STRICT to mesh-wide STRICT, refusing only the legacy client', async () => {
    let docs: Doc[] = [];
    const plans = new Map<string, MeshPlan>();
    const apply = (next: Doc[]) => {
      docs = next;
      plans.clear();
    };
    const planOf = (ns: string) => () => {
      let p = plans.get(ns);
      if (p === undefined) {
        p = planFor(httpbin(ns), docs);
        plans.set(ns, p);
      }
      return p;
    };
    const foo = await startServer({ getPlan: planOf('foo'), certs: await certSourceFor('foo', 'httpbin') });
    const bar = await startServer({ getPlan: planOf('bar'), certs: await certSourceFor('bar', 'httpbin') });
    const servers = { 'httpbin.foo': foo.port, 'httpbin.bar': bar.port };
    const clients: Client[] = [
      { name: 'sleep.foo', tls: await meshClient('foo', 'sleep') },
      { name: 'sleep.bar', tls: await meshClient('bar', 'sleep') },
      { name: 'sleep.legacy', tls: null },
    ];

    // Before any policy: PERMISSIVE, everyone gets 200.
    expect(await matrix(clients, servers)).toEqual([
      'sleep.foo to httpbin.foo: 200',
      'sleep.foo to httpbin.bar: 200',
      'sleep.bar to httpbin.foo: 200',
      'sleep.bar to httpbin.bar: 200',
      'sleep.legacy to httpbin.foo: 200',
      'sleep.legacy to httpbin.bar: 200',
    ]);

    // kubectl apply -n foo: STRICT in foo. The legacy client can no longer reach foo.
    apply([
      { text: sampleText('tasks/mtls-migration/01-peerauthentication-foo-strict.yaml'), namespace: 'foo' },
    ]);
    expect(await matrix(clients, servers)).toEqual([
      'sleep.foo to httpbin.foo: 200',
      'sleep.foo to httpbin.bar: 200',
      'sleep.bar to httpbin.foo: 200',
      'sleep.bar to httpbin.bar: 200',
      'sleep.legacy to httpbin.foo: 000',
      'sleep.legacy to httpbin.bar: 200',
    ]);

    // kubectl apply -n istio-system: STRICT mesh-wide (foo's policy removed first, as the task does).
    apply([
      {
        text: sampleText('tasks/mtls-migration/02-peerauthentication-mesh-strict.yaml'),
        namespace: 'istio-system',
      },
    ]);
    expect(await matrix(clients, servers)).toEqual([
      'sleep.foo to httpbin.foo: 200',
      'sleep.foo to httpbin.bar: 200',
      'sleep.bar to httpbin.foo: 200',
      'sleep.bar to httpbin.bar: 200',
      'sleep.legacy to httpbin.foo: 000',
      'sleep.legacy to httpbin.bar: 000',
    ]);
    expect(foo.refusals.every((r) => r.reason === 'plaintext-in-strict')).toBe(true);
    expect(bar.refusals.map((r) => r.reason)).toEqual(['plaintext-in-strict']);
  });
});

describe('createMeshServer on plan reload', () => {
  it('applies a mode change to the next connection and leaves an open one alone', async () => {
    let plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; localPort: number }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, agent }, (res) => {
          const localPort = res.socket.localPort ?? 0;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, localPort }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const first = await get();
      expect(first.status).toBe(200);
      plan = planFor(httpbin('foo'), [
        { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') },
      ]);
      // The kept-alive connection was accepted under PERMISSIVE and keeps being served.
      expect(await get()).toEqual({ status: 200, localPort: first.localPort });
      // A new plaintext connection meets STRICT.
      await expect(plainGet(port)).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect((await tlsGet(port, await meshClient('bar', 'sleep'))).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});
