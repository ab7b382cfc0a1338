import { writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { trace } from '@opentelemetry/api';
import { currentContext } from '../../packages/core/src/index.js';
import { createManualClock } from '../../packages/core/src/runtime/clock.js';
import { localPeerHeaders } from '../../packages/core/src/telemetry/metadata-exchange/peer-metadata.js';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { converse, opened, refusedWith } from '../support/ws-client.js';
import {
  histogramSum,
  MESH_SERVERS,
  observedHttpbin,
  plainExchange,
  requestsTotal,
  type ObservedHttpbin,
} from '../support/observed-httpbin.js';

// A WebSocket through a sidecar is one HTTP stream: Envoy's router forwards the upgrade, the
// application's 101, then the frames both ways as the stream's body, and the stream ends when
// a side closes its connection. Its stats filter and access log report it then, once: status
// 101, the frames counted as body bytes, the duration of the whole conversation. Which side
// closed decides the flag. The client: the connection manager resets the stream,
// `DC` `downstream_remote_disconnect` (conn_manager_impl.cc onEvent/doConnectionClose). The
// application: an HTTP/1 upstream's close is no end of an upgraded response (http1 codec's
// direct dispatch), so the codec client resets the stream with `connection_termination`
// (codec_client.cc onEvent) and the router, its response started, logs `UC`
// `upstream_reset_after_response_started{connection_termination}` (router.cc onUpstreamReset).
// Real `ws` servers and clients on mesh.listen and a Fastify serverFactory.

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** An echoing `ws` server on `s`'s upgrade requests; `verify` false refuses the handshake (401). */
function echoServer(s: ObservedHttpbin, verify = true): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, verifyClient: () => verify });
  wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
  s.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  );
  closers.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return wss;
}

/** Waits until `s` reported `n` requests (a stream is reported when its connection closed). */
async function reported(s: ObservedHttpbin, n: number): Promise<void> {
  await linesBeyond(s.log, n - 1);
}

describe.each(MESH_SERVERS)('a WebSocket, %s', (kind) => {
  it('closed by the application after the client’s close frame: one 101 UC stream, its frames counted', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    echoServer(s);
    const c = await converse(s.port, 'close');
    await reported(s, 1);
    const line = JSON.parse(s.log[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      method: 'GET',
      path: '/ws',
      protocol: 'HTTP/1.1',
      response_code: 101,
      response_flags: 'UC',
      response_code_details: 'upstream_reset_after_response_started{connection_termination}',
      upstream_host: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    // The frames are the stream's body: the client's masked `hello` (11) and close (8), the
    // application's `hello` (7) and close (4).
    expect(line.bytes_received).toBe(19);
    expect(line.bytes_sent).toBe(11);
    expect((await requestsTotal(s.registry)).map((r) => r.labels)).toMatchObject([
      {
        reporter: 'destination',
        response_code: '101',
        response_flags: 'UC',
        destination_service: 'httpbin.foo.svc.cluster.local',
      },
    ]);
    // istio_request_bytes / istio_response_bytes: all the stream's bytes, heads included:
    // what the client's socket wrote and read.
    expect(await histogramSum(s.registry, 'istio_request_bytes')).toBe(c.written);
    expect(await histogramSum(s.registry, 'istio_response_bytes')).toBe(c.read);
    const spans = s.spans.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes['http.response.status_code']).toBe(101);
    expect(spans[0]!.attributes['response_flags']).toBe('UC');
    expect(s.handled()).toBe(0);
  });

  it('closed by the client: 101 DC downstream_remote_disconnect', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    echoServer(s);
    const c = await converse(s.port, 'terminate');
    await reported(s, 1);
    const line = JSON.parse(s.log[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      response_code: 101,
      response_flags: 'DC',
      response_code_details: 'downstream_remote_disconnect',
      bytes_received: 11,
      bytes_sent: 7,
    });
    expect(await histogramSum(s.registry, 'istio_request_bytes')).toBe(c.written);
    expect(await histogramSum(s.registry, 'istio_response_bytes')).toBe(c.read);
  });

  it('lasts as long as the conversation: the duration runs until the connection closed', async () => {
    // The mesh's clock, moved by the test: the sockets stay real.
    const clock = createManualClock();
    const s = await observedHttpbin(kind, await tmp(), closers, {
      clock,
      accessLogFormat:
        '{"duration":"%DURATION%","to_101":"%RESPONSE_DURATION%",' +
        '"sent_101":"%COMMON_DURATION(US_RX_BEG:DS_TX_BEG:ms)%","code":"%RESPONSE_CODE%"}',
    });
    const wss = echoServer(s);
    // The application closes 300 ms after the handshake.
    wss.on('connection', (ws) => void clock.advance(300).then(() => ws.close(1001)));
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    await new Promise((resolve) => ws.on('close', resolve));
    await reported(s, 1);
    const line = JSON.parse(s.log[0]!) as {
      duration: number;
      to_101: number;
      sent_101: number;
      code: number;
    };
    expect(line.code).toBe(101);
    expect(line.duration).toBeGreaterThanOrEqual(290);
    // %RESPONSE_DURATION%: until the application's 101 went out, before its close.
    expect(line.to_101).toBeGreaterThanOrEqual(0);
    expect(line.to_101).toBeLessThan(line.duration - 200);
    // The application writes its 101 straight to the client.
    expect(line.sent_101).toBe(0);
  });

  it('reset by the client: DC', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    echoServer(s);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    ws.on('error', () => {});
    // A TCP RST: the application's socket fails with ECONNRESET and node destroys it.
    ws.on('open', () => (ws as unknown as { _socket: Socket })._socket.resetAndDestroy());
    await reported(s, 1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ response_code: 101, response_flags: 'DC' });
  });

  it('counts what the client sent with its upgrade request, before the switch', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    // A toy server (the only upgrade Istio allows is websocket's): echoes what came with the
    // request (node's `head`), then closes.
    s.server.on('upgrade', (_req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.end(head);
    });
    const text = await plainExchange(
      s.port,
      'GET /ws HTTP/1.1\r\nHost: httpbin\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly',
    );
    expect(text.endsWith('\r\n\r\nearly')).toBe(true);
    await reported(s, 1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 101,
      response_flags: 'UC',
      bytes_received: 5,
      bytes_sent: 5,
    });
  });

  it('hands the upgrade on inside the request’s context: the handshake’s x-request-id and trace', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const seen: { requestId: string | null; traceId: string | undefined }[] = [];
    // Before ws's listener: what a handler that calls mesh.fetch there would continue.
    s.server.on('upgrade', () => {
      const ctx = currentContext();
      seen.push({
        requestId: ctx?.requestId ?? null,
        traceId: ctx === undefined ? undefined : trace.getSpanContext(ctx.trace)?.traceId,
      });
    });
    echoServer(s);
    await converse(s.port, 'close');
    await reported(s, 1);
    const line = JSON.parse(s.log[0]!) as { request_id: string };
    expect(seen).toEqual([
      { requestId: line.request_id, traceId: s.spans.getFinishedSpans()[0]!.spanContext().traceId },
    ]);
  });

  it('answers the 101 with what the sidecar adds to a forwarded response', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const wss = echoServer(s);
    // ws lets a server add headers to its 101; the application's own server is replaced.
    wss.on('headers', (headers: string[]) => headers.push('Server: ws-app', 'X-App: kept'));
    // ws checks the handshake (its accept key) with the stamped head: the socket opens.
    const res = await opened(s.port);
    expect(res.statusCode).toBe(101);
    expect(res.headers).toMatchObject({
      server: 'istio-envoy',
      'x-app': 'kept',
      'x-envoy-decorator-operation': `httpbin.foo.svc.cluster.local:${s.port}/*`,
      upgrade: 'websocket',
    });
    // Envoy never completes an upgrade request, so times no upstream service for it.
    expect(res.headers['x-envoy-upstream-service-time']).toBeUndefined();
    expect(res.rawHeaders.filter((h) => h.toLowerCase() === 'server')).toHaveLength(1);
    await reported(s, 1);
    // The bytes counted are the ones that went out, stamped: all the client read.
    expect(await histogramSum(s.registry, 'istio_response_bytes')).toBe(res.socket.bytesRead);
  });

  it('answers a meshed caller’s metadata exchange on the 101, and labels the stream with it', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    echoServer(s);
    const mx = localPeerHeaders(
      { name: 'sleep-1', namespace: 'foo', serviceAccount: 'sleep', labels: { app: 'sleep' } },
      'Kubernetes',
      'sidecar~10.0.0.1~sleep-1.foo~foo.svc.cluster.local',
    );
    const res = await opened(s.port, '/ws', {
      'x-envoy-peer-metadata-id': mx.id,
      'x-envoy-peer-metadata': mx.value,
    });
    expect(res.headers['x-envoy-peer-metadata-id']).toMatch(/^sidecar~.*~httpbin/);
    expect(res.headers['x-envoy-peer-metadata']).toEqual(expect.any(String));
    await reported(s, 1);
    expect((await requestsTotal(s.registry)).map((r) => r.labels)).toMatchObject([
      { response_code: '101', source_workload: 'sleep-1', source_app: 'sleep' },
    ]);
  });

  it('refused by the application (no 101): its status, via_upstream, no flag', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    echoServer(s, false);
    const { status } = await refusedWith(s.port);
    expect(status).toBe(401);
    await reported(s, 1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 401,
      response_flags: '-',
      response_code_details: 'via_upstream',
    });
    expect((await requestsTotal(s.registry)).map((r) => r.labels)).toMatchObject([
      { response_code: '401', response_flags: '-' },
    ]);
  });

  it('denied by an AuthorizationPolicy: the 403 is counted, logged and traced', async () => {
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'deny-ws.yaml'),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-ws, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/ws"] } }] }]
`,
    );
    const s = await observedHttpbin(kind, dir, closers);
    echoServer(s);
    const { status } = await refusedWith(s.port);
    expect(status).toBe(403);
    await reported(s, 1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 403,
      response_code_details: 'rbac_access_denied_matched_policy[ns[foo]-policy[deny-ws]-rule[0]]',
    });
    expect((await requestsTotal(s.registry)).map((r) => r.labels)).toMatchObject([
      { response_code: '403', response_flags: '-' },
    ]);
    expect(s.spans.getFinishedSpans().map((sp) => sp.attributes['http.response.status_code'])).toEqual([403]);
  });
});
