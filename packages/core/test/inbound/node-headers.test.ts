import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { applyRequestHeaderEdits } from '../../src/inbound/node-headers.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A request as node's parser builds it, from raw header lines sent over loopback. */
async function requestWith(raw: string[]): Promise<IncomingMessage> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<IncomingMessage>((r) => server.once('request', r));
  const lines: string[] = [];
  for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
  const req = await got;
  // Node builds `headers` lazily from `rawHeaders`; read it as a framework would.
  void req.headers['host'];
  return req;
}

describe('applyRequestHeaderEdits', () => {
  it('removes every line of a dropped header from headers and rawHeaders, in any case', async () => {
    const req = await requestWith([
      'Host',
      'a',
      'Authorization',
      'Bearer x',
      'authorization',
      'Bearer y',
      'X-Keep',
      '1',
    ]);
    const raw = req.rawHeaders;
    applyRequestHeaderEdits(req, ['authorization'], {});
    expect('authorization' in req.headers).toBe(false);
    expect(req.headers['host']).toBe('a');
    expect(req.headers['x-keep']).toBe('1');
    expect(req.rawHeaders).toEqual(['Host', 'a', 'X-Keep', '1']);
    // The array is edited in place, so an earlier reference to it no longer shows the token.
    expect(raw).toEqual(['Host', 'a', 'X-Keep', '1']);
  });

  it('adds new headers in place, to headers and rawHeaders alike', async () => {
    const req = await requestWith(['Host', 'a', 'X-Keep', '1']);
    const headers = req.headers;
    applyRequestHeaderEdits(req, [], { 'x-forwarded-proto': 'http', 'X-User': 'alice' });
    expect(req.headers).toBe(headers);
    expect(req.headers).toEqual({ host: 'a', 'x-keep': '1', 'x-forwarded-proto': 'http', 'x-user': 'alice' });
    expect(req.rawHeaders).toEqual([
      'Host',
      'a',
      'X-Keep',
      '1',
      'x-forwarded-proto',
      'http',
      'X-User',
      'alice',
    ]);
  });

  it('overwrites a set header that is present in any case, among new ones', async () => {
    const req = await requestWith(['Host', 'a', 'X-User', 'forged']);
    applyRequestHeaderEdits(req, [], { 'x-forwarded-proto': 'http', 'x-user': 'alice' });
    expect(req.headers).toEqual({ host: 'a', 'x-forwarded-proto': 'http', 'x-user': 'alice' });
    expect(req.rawHeaders).toEqual(['Host', 'a', 'x-forwarded-proto', 'http', 'x-user', 'alice']);
  });

  it('overwrites a set header instead of adding a second line', async () => {
    const req = await requestWith(['Host', 'a', 'X-Jwt-Payload', 'forged']);
    applyRequestHeaderEdits(req, [], { 'x-jwt-payload': 'real' });
    expect(req.headers['x-jwt-payload']).toBe('real');
    expect(req.rawHeaders).toEqual(['Host', 'a', 'x-jwt-payload', 'real']);
  });

  it('keeps headers added to the object after parsing, such as x-request-id', async () => {
    const req = await requestWith(['Host', 'a', 'Authorization', 'Bearer x']);
    req.headers['x-request-id'] = 'id-1';
    applyRequestHeaderEdits(req, ['authorization'], {});
    expect(req.headers['x-request-id']).toBe('id-1');
    expect(req.headers['authorization']).toBeUndefined();
  });

  it('keeps a header whose name is as long as a dropped one, and drops set names in any case', async () => {
    // `Proxy-Connect` and `authorization` are both 13 characters long.
    const req = await requestWith([
      'Proxy-Connect',
      'p',
      'AUTHORIZATION',
      'Bearer x',
      'x-jwt-claim',
      'forged',
      'Host',
      'a',
    ]);
    applyRequestHeaderEdits(req, ['authorization'], { 'X-Jwt-Claim': 'real' });
    expect(req.headers['proxy-connect']).toBe('p');
    expect(req.headers['authorization']).toBeUndefined();
    expect(req.headers['x-jwt-claim']).toBe('real');
    expect(req.rawHeaders).toEqual(['Proxy-Connect', 'p', 'Host', 'a', 'X-Jwt-Claim', 'real']);
  });

  it('leaves the request untouched when there is nothing to edit', async () => {
    const req = await requestWith(['Host', 'a']);
    const headers = req.headers;
    applyRequestHeaderEdits(req, [], {});
    expect(req.headers).toBe(headers);
    expect(req.rawHeaders).toEqual(['Host', 'a']);
  });
});
