import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { nodeConnectionOf, toInboundRequest } from '../../src/inbound/node-request.js';

function incoming(rawHeaders: string[], url = '/'): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = url;
  req.rawHeaders = rawHeaders;
  return req;
}

const headersOf = (raw: string[]) =>
  toInboundRequest(incoming(raw), nodeConnectionOf(new Socket(), null)).headers;

describe('toInboundRequest headers', () => {
  it('keeps every repeat of a header as its own value, names lower-cased', () => {
    const h = headersOf(['Host', 'a', 'X-Role', 'admin', 'x-role', 'user', 'X-ROLE', 'guest']);
    expect(h['x-role']).toEqual(['admin', 'user', 'guest']);
    expect(h['host']).toBe('a');
  });

  it('treats prototype names as plain data, and inherits nothing from Object.prototype', () => {
    const h = headersOf(['__proto__', 'p', 'Constructor', 'c', 'toString', 't']);
    expect(h['__proto__']).toBe('p');
    expect(h['constructor']).toBe('c');
    expect(h['tostring']).toBe('t');
    const plain = headersOf(['Host', 'a']);
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'])
      expect(plain[name]).toBeUndefined();
    expect(Object.keys(plain)).toEqual(['host']);
    expect({ ...plain }).toEqual({ host: 'a' });
  });

  it('takes the first Host when a second one was appended', () => {
    const req = toInboundRequest(
      incoming(['Host', 'good', 'Host', 'evil']),
      nodeConnectionOf(new Socket(), null),
    );
    expect(req.authority).toBe('good');
  });
});
