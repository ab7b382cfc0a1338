import { Agent, createServer, get, IncomingMessage } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../src/inbound/engine-types.js';
import {
  nodeConnectionOf,
  toInboundRequest,
  toInboundRequestVia,
  type PeerSource,
} from '../../src/inbound/node-request.js';
import { useCleanup } from '../helpers/cleanup.js';

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

describe('toInboundRequestVia', () => {
  const cleanup = useCleanup();

  /** Serves `n` sequential requests over one keep-alive connection; returns what each saw. */
  async function sequential(n: number, sources: PeerSource[]): Promise<InboundRequest[]> {
    const seen: InboundRequest[] = [];
    let i = 0;
    const server = cleanup.server(
      createServer((req, res) => {
        seen.push(toInboundRequestVia(req, sources[i++ % sources.length]!));
        res.end('ok');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let k = 0; k < n; k++) {
        const res = await fetchVia(agent, port);
        expect(res).toBe('ok');
      }
    } finally {
      agent.destroy();
    }
    return seen;
  }

  function fetchVia(agent: Agent, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
  }

  const peerA = {
    principal: 'cluster.local/ns/a/sa/a',
    trustDomain: 'cluster.local',
    namespace: 'a',
    serviceAccount: 'a',
  };

  it('asks for the peer once per connection and gives every request its addresses', async () => {
    const asked: Socket[] = [];
    const source: PeerSource = { peerOf: (s) => (asked.push(s), peerA) };
    const seen = await sequential(3, [source]);
    expect(asked).toHaveLength(1);
    for (const r of seen) {
      expect(r.peer).toBe(peerA);
      expect(r.sourceIp).toBe('127.0.0.1');
      expect(r.destinationIp).toBe('127.0.0.1');
      expect(r.sourcePort).toBeGreaterThan(0);
      expect(r.port).toBe(seen[0]!.port);
      expect(r.scheme).toBe('http');
      expect(r.sni).toBeNull();
    }
    expect(new Set(seen.map((r) => r.sourcePort)).size).toBe(1);
  });

  it('keeps a peer per source: another handle on the same connection asks its own', async () => {
    const a: PeerSource = { peerOf: () => peerA };
    const b: PeerSource = { peerOf: () => null };
    const seen = await sequential(2, [a, b]);
    expect(seen[0]!.peer).toBe(peerA);
    expect(seen[1]!.peer).toBeNull();
  });
});
