import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { MESH_SERVERS, observedHttpbin } from '../support/observed-httpbin.js';

// istiod configures one upgrade on every connection manager, `websocket`
// (listener_builder.go UpgradeConfigs). An upgrade to anything else fails the filter chain's
// creation, before any filter: `403`, no body, `upgrade_failed` (conn_manager_impl.cc
// createFilterChain). The application never hears of it, with or without an upgrade listener.

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Writes `raw` on a new connection; resolves with what came back once the server closed. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (got += c));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

const SPDY = 'GET / HTTP/1.1\r\nHost: httpbin.foo\r\nConnection: Upgrade\r\nUpgrade: spdy/3\r\n\r\n';

describe.each(MESH_SERVERS)('an upgrade to another protocol, %s', (kind) => {
  it('is refused 403 upgrade_failed before the application, which has an upgrade listener', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const heard: IncomingMessage[] = [];
    s.server.on('upgrade', (req: IncomingMessage) => heard.push(req));
    const answer = await exchange(s.port, SPDY);
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(answer.toLowerCase()).toContain('\r\ncontent-length: 0\r\n');
    expect(heard).toHaveLength(0);
    expect(s.handled()).toBe(0);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 403,
      response_flags: '-',
      response_code_details: 'upgrade_failed',
    });
  });

  // An upgrade request never completes on Envoy's HTTP/1 codec, so the local reply ends a stream
  // whose request is not complete, and the connection manager resets it: the connection closes
  // (conn_manager_impl.cc doEndStream). It stayed open here until node's keep-alive timeout.
  it('is refused the same way by an application with no upgrade listener, and the connection closes', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const answer = await exchange(s.port, SPDY);
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(s.handled()).toBe(0);
  });

  it('lets a header named Upgrade without Connection: upgrade through, as no upgrade', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const answer = await exchange(
      s.port,
      'GET / HTTP/1.1\r\nHost: httpbin.foo\r\nUpgrade: spdy/3\r\nConnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(s.handled()).toBe(1);
  });

  it('serves an h2c upgrade with no body as a plain request, past the upgrade listener, as Envoy’s codec does', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const heard: IncomingMessage[] = [];
    s.server.on('upgrade', (req: IncomingMessage) => heard.push(req));
    const answer = await exchange(
      s.port,
      'GET / HTTP/1.1\r\nHost: httpbin.foo\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.endsWith('\r\n\r\nok')).toBe(true);
    expect(heard).toHaveLength(0);
    expect(s.handled()).toBe(1);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ response_code: 200, response_flags: '-' });
  });

  // Envoy's codec strips an h2c upgrade and serves the request, body included; node's parser
  // stops at an upgrade's head, so the body is what came with it and then the connection's
  // next bytes, up to the content-length.
  it('serves an h2c upgrade with a content-length body as a plain request, the body included', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const heard: IncomingMessage[] = [];
    s.server.on('upgrade', (req: IncomingMessage) => heard.push(req));
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1', () => {
        socket.write(
          'POST / HTTP/1.1\r\nHost: httpbin.foo\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
            'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello',
        );
        // The rest of the body in a later write, after node's parser stopped at the head.
        setTimeout(() => socket.write(' world'), 50);
      });
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => (got += c));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.endsWith('\r\n\r\nposted')).toBe(true);
    expect(heard).toHaveLength(0);
    expect(s.handled()).toBe(1);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ response_code: 200, bytes_received: 11 });
  });
});
