import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

/**
 * A JWKS endpoint on loopback whose answer `answer()` gives at each fetch (so a test can
 * rotate keys or take it down), closed after each test. Returns a function that starts it
 * and gives its `jwksUri`.
 */
export function useJwksServer(answer: () => { status: number; body: string }): () => Promise<string> {
  let server: http.Server | null = null;
  afterEach(async () => {
    const s = server;
    server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });
  return async () => {
    const s = http.createServer((_req, res) => {
      const { status, body } = answer();
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/jwks.json`;
  };
}
