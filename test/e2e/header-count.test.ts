import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS, serveBehindMesh, type AdapterKind } from '../support/adapter-servers.js';
import { httpbinMesh, type Closers } from '../support/httpbin-mesh.js';

// Envoy's HTTP/1 codec refuses a request with more than 100 headers (max_headers_count's
// default; istiod sets none) with `431 Request Header Fields Too Large` and closes the
// connection (http1 codec_impl.cc). Node would take up to 2,000 (server.maxHeadersCount) and
// silently drop the rest. Through real servers, with the header lines written on a raw socket.

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

let handled = 0;

const serve = async (kind: AdapterKind): Promise<number> =>
  serveBehindMesh(
    kind,
    await httpbinMesh(closers),
    '/',
    () => {
      handled++;
      return 'ok';
    },
    closers,
  );

/** GET / with `count` header lines (Host among them), on a keep-alive connection. */
async function getWithHeaders(port: number, count: number): Promise<{ text: string; closed: boolean }> {
  const lines = ['Host: httpbin.foo'];
  for (let i = 1; i < count; i++) lines.push(`X-H${i}: v`);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`),
    );
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      // A kept-alive connection stays open: the answer is in once its body is.
      if (/\r\n\r\nok$/.test(text)) {
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
    socket.on('end', () => resolve({ text, closed: true }));
    socket.on('error', reject);
  });
}

describe.each(ADAPTERS)('a request’s header count, %s', (kind) => {
  it('serves 100 headers', async () => {
    const port = await serve(kind);
    const before = handled;
    const r = await getWithHeaders(port, 100);
    expect(r.text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(r.closed).toBe(false);
    expect(handled).toBe(before + 1);
  });

  it('refuses 101 with 431 and Envoy’s body, closes the connection, and never calls the handler', async () => {
    const port = await serve(kind);
    const before = handled;
    const r = await getWithHeaders(port, 101);
    expect(r.text.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n')).toBe(true);
    expect(r.text.endsWith('\r\n\r\nRequest Header Fields Too Large')).toBe(true);
    expect(r.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(r.closed).toBe(true);
    expect(handled).toBe(before);
  });
});
