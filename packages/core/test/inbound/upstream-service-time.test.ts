import { createServer, request, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { stampUpstreamServiceTime } from '../../src/inbound/upstream-service-time.js';
import { sentResponseHeaders } from '../../src/inbound/sent-headers.js';

// Envoy's router sets x-envoy-upstream-service-time on the response, replacing any value
// the upstream sent (router.cc onUpstreamHeaders: setEnvoyUpstreamServiceTime).
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** Serves one request with `answer`, the response stamped at a clock reading 1000 that reads 1042.4 later. */
async function serve(answer: (res: ServerResponse) => void) {
  let sent: ReturnType<typeof sentResponseHeaders> | null = null;
  const server = createServer((_req, res) => {
    let t = 1000;
    stampUpstreamServiceTime(res, () => {
      const now = t;
      t = 1042.4;
      return now;
    });
    res.on('finish', () => (sent = sentResponseHeaders(res)));
    answer(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    })
      .on('error', reject)
      .end();
  });
  return { headers, sent: sent as ReturnType<typeof sentResponseHeaders> | null };
}

describe('stampUpstreamServiceTime', () => {
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
