import { createServer } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { nodeJoinedHeader } from '../../../src/inbound/jwt/node-header-join.js';

const NAMES = [
  'x-jwt-payload',
  'accept',
  'cookie',
  'age',
  'authorization',
  'content-type',
  'etag',
  'expires',
  'from',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
];

/** The `req.headers` a real Node server shows for a request sending each name twice (A, then B). */
async function nodeParses(): Promise<Record<string, unknown>> {
  const server = createServer((req, res) => res.end(JSON.stringify(req.headers)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        const lines = NAMES.map((n) => `${n}: A\r\n${n}: B\r\n`).join('');
        s.write(`GET / HTTP/1.1\r\nhost: h\r\nconnection: close\r\n${lines}\r\n`);
      });
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => (text += c));
      s.on('end', () =>
        resolve(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>),
      );
      s.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('nodeJoinedHeader', () => {
  it("matches this Node's parser for a header sent on two lines", async () => {
    const parsed = await nodeParses();
    for (const name of NAMES)
      expect([name, nodeJoinedHeader(name, ['A', 'B'])]).toEqual([name, parsed[name]]);
  });

  it('returns a single value as it is', () => {
    expect(nodeJoinedHeader('cookie', ['a=1'])).toBe('a=1');
    expect(nodeJoinedHeader('x-sub', ['alice'])).toBe('alice');
  });
});
