import { createServer, request, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { stampForwardedResponse, type ForwardedStamp } from '../../src/inbound/forwarded-response.js';
import { sentResponseHeaders } from '../../src/inbound/sent-headers.js';

// Envoy's router sets x-envoy-upstream-service-time on the response, replacing any value
// the upstream sent (router.cc onUpstreamHeaders: setEnvoyUpstreamServiceTime); the
// connection manager then overwrites `server` (conn_manager_impl.cc
// ActiveStream::encodeHeaders, server_header_transformation OVERWRITE).
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const TIME_ONLY: ForwardedStamp = { upstreamTime: true, server: null };

/** Serves one request with `answer`, the response stamped at a clock reading 1000 that reads 1042.4 later. */
async function serve(answer: (res: ServerResponse) => void, stamp: ForwardedStamp = TIME_ONLY) {
  let sent: ReturnType<typeof sentResponseHeaders> | null = null;
  const server = createServer((_req, res) => {
    let t = 1000;
    stampForwardedResponse(
      res,
      () => {
        const now = t;
        t = 1042.4;
        return now;
      },
      stamp,
    );
    res.on('finish', () => (sent = sentResponseHeaders(res)));
    answer(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  let raw: string[] = [];
  const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/' }, (res) => {
      raw = res.rawHeaders;
      res.resume();
      res.on('end', () => resolve(res.headers));
    })
      .on('error', reject)
      .end();
  });
  /** The response's header names as they came over the wire, lower-cased. */
  const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  return { headers, names, sent: sent as ReturnType<typeof sentResponseHeaders> | null };
}

describe('stampForwardedResponse: x-envoy-upstream-service-time', () => {
  it('adds the whole milliseconds to headers given to writeHead, leaving the caller’s object as it was', async () => {
    const given = { 'content-type': 'text/plain' };
    const { headers } = await serve((res) => {
      res.writeHead(200, given);
      res.end('x');
    });
    expect(headers['x-envoy-upstream-service-time']).toBe('42');
    expect(headers['content-type']).toBe('text/plain');
    expect(given).toEqual({ 'content-type': 'text/plain' });
  });

  it('replaces a value the application set, as the router does', async () => {
    const set = await serve((res) => {
      res.setHeader('X-Envoy-Upstream-Service-Time', '999');
      res.end('x');
    });
    expect(set.headers['x-envoy-upstream-service-time']).toBe('42');
    const given = await serve((res) => {
      res.writeHead(200, { 'x-envoy-upstream-service-time': '999' });
      res.end('x');
    });
    expect(given.headers['x-envoy-upstream-service-time']).toBe('42');
  });

  it('works with a reason phrase and a flat header list', async () => {
    const list = ['x-app', 'yes'];
    const { headers } = await serve((res) => {
      res.writeHead(201, 'Made', list);
      res.end();
    });
    expect(headers['x-envoy-upstream-service-time']).toBe('42');
    expect(headers['x-app']).toBe('yes');
    expect(list).toEqual(['x-app', 'yes']);
  });
});

describe('stampForwardedResponse: server', () => {
  const both: ForwardedStamp = { upstreamTime: true, server: 'istio-envoy' };
  const serverOnly: ForwardedStamp = { upstreamTime: false, server: 'istio-envoy' };

  it('overwrites the server the application set, whatever its case and however it was given', async () => {
    const viaSetHeader = await serve((res) => {
      res.setHeader('Server', 'app/1.0');
      res.end('x');
    }, both);
    expect(viaSetHeader.headers['server']).toBe('istio-envoy');
    expect(viaSetHeader.headers['x-envoy-upstream-service-time']).toBe('42');
    const given = { Server: 'app/1.0', 'content-type': 'text/plain' };
    const viaObject = await serve((res) => {
      res.writeHead(200, given);
      res.end('x');
    }, both);
    expect(viaObject.headers['server']).toBe('istio-envoy');
    expect(viaObject.names.filter((n) => n === 'server')).toHaveLength(1);
    expect(given).toEqual({ Server: 'app/1.0', 'content-type': 'text/plain' });
    const viaList = await serve((res) => {
      res.writeHead(200, ['SERVER', 'app/1.0', 'x-app', 'yes']);
      res.end('x');
    }, serverOnly);
    expect(viaList.headers['server']).toBe('istio-envoy');
    expect(viaList.names.filter((n) => n === 'server')).toHaveLength(1);
    expect(viaList.headers['x-app']).toBe('yes');
    expect(viaList.headers['x-envoy-upstream-service-time']).toBeUndefined();
  });

  it('adds it when the application sets none, and only it when the debug headers are off', async () => {
    const { headers, sent } = await serve((res) => res.end('x'), serverOnly);
    expect(headers['server']).toBe('istio-envoy');
    expect(headers['x-envoy-upstream-service-time']).toBeUndefined();
    // The access log reads the headers as sent (%RESP(SERVER)%).
    expect(sent?.['server']).toBe('istio-envoy');
  });

  it('passes the application’s server through when server is disabled (PASS_THROUGH)', async () => {
    const { headers } = await serve(
      (res) => {
        res.setHeader('server', 'app/1.0');
        res.end('x');
      },
      { upstreamTime: true, server: null },
    );
    expect(headers['server']).toBe('app/1.0');
    expect(headers['x-envoy-upstream-service-time']).toBe('42');
  });
});

describe('sentResponseHeaders', () => {
  it('reads the headers as they went out, those given to writeHead and node’s own included', async () => {
    const { sent } = await serve((res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(200, { 'X-App': 'yes', 'Content-Length': '1' });
      res.end('x');
    });
    expect(sent).toMatchObject({
      'x-app': 'yes',
      'content-length': '1',
      'set-cookie': ['a=1', 'b=2'],
      'x-envoy-upstream-service-time': '42',
    });
    expect(sent?.['date']).toMatch(/GMT$/);
  });
});
