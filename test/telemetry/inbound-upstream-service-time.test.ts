import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { createManualClock, type ManualClock } from '../../packages/core/src/runtime/clock.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { DENY_ADMIN } from '../support/policies.js';

// The inbound sidecar's router adds `x-envoy-upstream-service-time` to the response it
// returns: the milliseconds from the end of the request to the application's response
// headers, none when the response came before the request was complete (router.cc
// onUpstreamHeaders, spec/traffic.md "Headers"). Istio's access log prints it as
// %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% (spec/telemetry.md §3). A request the mesh refuses
// never reaches the application, so it has none. And %RESP(...)% reads the response
// headers the application sent, however it sent them.
const FORMAT =
  '%RESPONSE_CODE%|%RESP(CONTENT-TYPE)%|%RESP(X-APP)%|%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%|%DURATION%\n';
const SLOW_MS = 80;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A mesh on a manual clock (the application's time passes by `clock.advance`) writing its access log to `lines`. */
async function meshWithLog(lines: string[], extraYaml = ''): Promise<{ mesh: Mesh; clock: ManualClock }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-ust-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'deny-admin.yaml'), DENY_ADMIN + extraYaml);
  const clock = createManualClock();
  const mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    config: dir,
    clock,
    meshConfig: { accessLogFile: '/dev/stdout', accessLogFormat: FORMAT },
    telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
  });
  closers.push(() => mesh.close());
  return { mesh, clock };
}

/** Listens on a loopback port (closed after the test); resolves with the port. */
async function serveExpress(app: express.Express): Promise<number> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** The same Fastify routes on Fastify's own server or on the mesh server. */
async function fastifyOn(mesh: Mesh, clock: ManualClock, app: FastifyInstance): Promise<number> {
  await app.register(fastifyMeshlet, { mesh });
  app.get('/slow', async (_req, reply) => {
    await clock.advance(SLOW_MS);
    void reply.header('x-app', 'yes').type('text/plain');
    return 'slow';
  });
  app.get('/fast', (_req, reply) => reply.header('x-app', 'yes').type('text/plain').send('fast'));
  app.get('/admin', () => 'admin');
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return (app.server.address() as AddressInfo).port;
}

/** Each way a user serves: the app answers `/slow` after SLOW_MS with `x-app: yes`, `/fast` at once. */
const SERVERS = {
  fastify: (mesh: Mesh, clock: ManualClock) => fastifyOn(mesh, clock, Fastify()),
  'fastify on the mesh server': (mesh: Mesh, clock: ManualClock) =>
    fastifyOn(mesh, clock, Fastify({ serverFactory: (handler) => mesh.serverFactory(handler) })),
  express: async (mesh: Mesh, clock: ManualClock) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    app.get('/slow', (_req, res) => {
      void clock.advance(SLOW_MS).then(() => res.set('x-app', 'yes').type('text/plain').send('slow'));
    });
    app.get('/fast', (_req, res) => res.set('x-app', 'yes').type('text/plain').send('fast'));
    app.get('/admin', (_req, res) => res.send('admin'));
    return serveExpress(app);
  },
  'express answering with writeHead': async (mesh: Mesh, clock: ManualClock) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    const answer = (res: ServerResponse, body: string) => {
      res.writeHead(200, 'OK', ['content-type', 'text/plain', 'x-app', 'yes']);
      res.end(body);
    };
    app.get('/slow', (_req, res) => void clock.advance(SLOW_MS).then(() => answer(res, 'slow')));
    app.get('/fast', (_req, res) => answer(res, 'fast'));
    app.get('/admin', (_req, res) => res.send('admin'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    return (server.address() as AddressInfo).port;
  },
} as const;

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])(
  'x-envoy-upstream-service-time on inbound responses, %s',
  (kind) => {
    async function setup() {
      const lines: string[] = [];
      const { mesh, clock } = await meshWithLog(lines);
      const port = await SERVERS[kind](mesh, clock);
      const call = async (path: string) => {
        const before = lines.length;
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        await res.text();
        await linesBeyond(lines, before);
        return { res, line: lines.at(-1)!.split('|') };
      };
      return { call };
    }

    it("is the application's time to its response headers, on the response and in the access log", async () => {
      const { call } = await setup();
      const { res, line } = await call('/slow');
      expect(res.status).toBe(200);
      const header = res.headers.get('x-envoy-upstream-service-time');
      expect(header).toMatch(/^\d+$/);
      // One millisecond of rounding either side; the application took at least SLOW_MS.
      expect(Number(header)).toBeGreaterThanOrEqual(SLOW_MS - 1);
      const [code, contentType, app, upstreamTime, duration] = line;
      expect(code).toBe('200');
      expect(contentType).toMatch(/^text\/plain/);
      expect(app).toBe('yes');
      expect(upstreamTime).toBe(header);
      expect(Number(duration)).toBeGreaterThanOrEqual(Number(upstreamTime));
    });

    it('is small for a fast answer and absent when the mesh refuses the request', async () => {
      const { call } = await setup();
      const fast = await call('/fast');
      const header = fast.res.headers.get('x-envoy-upstream-service-time');
      expect(header).toMatch(/^\d+$/);
      expect(Number(header)).toBeLessThan(SLOW_MS / 2);
      expect(fast.line[3]).toBe(header);
      expect(fast.line[2]).toBe('yes');
      const denied = await call('/admin');
      expect(denied.res.status).toBe(403);
      expect(denied.res.headers.has('x-envoy-upstream-service-time')).toBe(false);
      expect(denied.line[0]).toBe('403');
      expect(denied.line[3]).toBe('-');
    });
  },
);

it('is not added when meshConfig proxyHeaders.envoyDebugHeaders is disabled (suppress_envoy_headers)', async () => {
  const lines: string[] = [];
  const { mesh, clock } = await meshWithLog(
    lines,
    `---\n${istioConfigMap('defaultConfig:\n  proxyHeaders:\n    envoyDebugHeaders: { disabled: true }')}`,
  );
  const port = await SERVERS.fastify(mesh, clock);
  const res = await fetch(`http://127.0.0.1:${port}/fast`);
  expect(res.status).toBe(200);
  expect(res.headers.has('x-envoy-upstream-service-time')).toBe(false);
  await res.text();
  await linesBeyond(lines, 0);
  expect(lines[0]!.split('|').slice(0, 4)).toEqual(['200', 'text/plain', 'yes', '-']);
});

/** A POST on a raw socket: its head at once, its body once `between` settles; resolves with the response head. */
function slowPost(port: number, path: string, between: () => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: httpbin.foo\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`,
      );
      void between().then(() => socket.write('hello'));
    });
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (out += d));
    // The server may close before the late body is written: only the response matters.
    socket.on('error', () => undefined);
    socket.on('close', () =>
      out === '' ? reject(new Error('no response')) : resolve(out.split('\r\n\r\n')[0]!),
    );
  });
}

/** `arrived` is told when the application has the head of an `/upload`, before its body. */
const BODY_SERVERS = {
  fastify: async (mesh: Mesh, arrived: () => void) => {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh });
    // After the plugin's hook, before the body is read: a response before the request is complete.
    app.addHook('onRequest', (request, reply, done) => {
      if (request.url === '/early') void reply.send('early');
      else {
        arrived();
        done();
      }
    });
    app.post('/upload', (request) => `got ${String(request.body).length}`);
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
  express: async (mesh: Mesh, arrived: () => void) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    app.use((req, _res, next) => {
      if (req.url === '/upload') arrived();
      next();
    });
    app.post('/early', (_req, res) => res.send('early'));
    app.post('/upload', express.text(), (req, res) => res.send(`got ${String(req.body).length}`));
    return serveExpress(app);
  },
} as const;

const BODY_DELAY_MS = 150;

describe.each(Object.keys(BODY_SERVERS) as (keyof typeof BODY_SERVERS)[])(
  'x-envoy-upstream-service-time on a request with a body, %s',
  (kind) => {
    async function setup() {
      const lines: string[] = [];
      const { mesh, clock } = await meshWithLog(lines);
      let arrived = (): void => undefined;
      const port = await BODY_SERVERS[kind](mesh, () => arrived());
      const post = async (path: string) => {
        // The body follows BODY_DELAY_MS of the mesh's clock after the application has the
        // head; an early answer does not wait for it.
        const headSeen = new Promise<void>((resolve) => (arrived = resolve));
        const head = await slowPost(port, path, async () => {
          if (path === '/upload') await headSeen;
          await clock.advance(BODY_DELAY_MS);
        });
        await linesBeyond(lines, 0);
        const time = /\r\nx-envoy-upstream-service-time: (\d+)/i.exec(head)?.[1] ?? null;
        return { head, time, line: lines[0]!.split('|') };
      };
      return { post };
    }

    it('counts from the last byte of the request, not from its head', async () => {
      const { post } = await setup();
      const { head, time, line } = await post('/upload');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(time).not.toBeNull();
      // The body took BODY_DELAY_MS to arrive; the application answered as soon as it had it.
      expect(Number(time)).toBeLessThan(BODY_DELAY_MS / 2);
      expect(line[3]).toBe(time);
      expect(Number(line[4])).toBeGreaterThanOrEqual(BODY_DELAY_MS - 5);
    });

    it('is absent on a response sent before the request was complete (a premature response)', async () => {
      const { post } = await setup();
      const { head, time, line } = await post('/early');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(time).toBeNull();
      expect(line[3]).toBe('-');
    });
  },
);
