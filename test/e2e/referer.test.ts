import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS, rawValues, serveBehindMesh, type AdapterKind } from '../support/adapter-servers.js';
import { headerRecorder } from '../support/header-recorder.js';
import { httpbinMesh, type Closers } from '../support/httpbin-mesh.js';

// Envoy's connection manager removes an invalid `referer` from every request, on the sidecar's
// inbound side and on the application's calls out (envoy conn_manager_utility.cc
// mutateRequestHeaders; http/utility.cc isValidRefererValue). Istio's proxy keeps referer as an
// inline header, so two Referer lines reach the application as one value joined with `,`
// (header_map_impl.cc insertByKey), judged as one. Through real servers: node keeps only the
// first of two Referer lines in `req.headers` (both in `rawHeaders`).

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Echo = { referer: string | null; raw: string[] };

/** `/referer` answers with the referer the application reads, and node's raw referer lines. */
const serve = async (kind: AdapterKind): Promise<number> =>
  serveBehindMesh(
    kind,
    await httpbinMesh(closers),
    '/referer',
    (req): Echo => ({ referer: req.headers.referer ?? null, raw: rawValues(req.rawHeaders, 'referer') }),
    closers,
  );

/** GET /referer with these referer lines, each its own header line, over a raw socket. */
async function getWithReferers(port: number, referers: string[]): Promise<Echo> {
  const lines = referers.map((r) => `Referer: ${r}\r\n`).join('');
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(`GET /referer HTTP/1.1\r\nHost: httpbin.foo\r\n${lines}Connection: close\r\n\r\n`);
    });
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
  expect(text.startsWith('HTTP/1.1 200')).toBe(true);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo;
}

describe.each(ADAPTERS)('a client’s referer, %s', (kind) => {
  it('reaches the application when it is one valid value', async () => {
    const port = await serve(kind);
    for (const referer of ['https://shop.example.com/cart?id=7', '/resource.html']) {
      expect(await getWithReferers(port, [referer])).toEqual({ referer, raw: [referer] });
    }
  });

  it('reaches it as one value when the client sent two', async () => {
    const port = await serve(kind);
    const joined = 'https://a.example/,https://b.example/';
    expect(await getWithReferers(port, ['https://a.example/', 'https://b.example/'])).toEqual({
      referer: joined,
      raw: [joined],
    });
  });

  it('does not when it is invalid, alone or joined', async () => {
    const port = await serve(kind);
    const none = { referer: null, raw: [] };
    expect(await getWithReferers(port, ['https://shop.example.com/cart#pay'])).toEqual(none);
    expect(await getWithReferers(port, ['android-app://com.example/'])).toEqual(none);
    expect(await getWithReferers(port, ['https://a.example/#x', 'https://b.example/'])).toEqual(none);
  });
});

describe('the application’s referer on a call out', () => {
  it('is sent when valid and dropped when not, as the sidecar’s outbound connection manager does', async () => {
    const api = await headerRecorder(closers);
    const mesh = await httpbinMesh(closers);
    const url = `http://127.0.0.1:${api.port}/`;
    await (await mesh.fetch(url, { headers: { referer: 'http://httpbin.foo:8000/page' } })).text();
    await (await mesh.fetch(url, { headers: { referer: 'http://user:pw@httpbin.foo:8000/page' } })).text();
    await (await mesh.fetch(url, { headers: { referer: 'http://httpbin.foo:8000/page#top' } })).text();
    expect(api.seen.map((h) => h.referer ?? null)).toEqual(['http://httpbin.foo:8000/page', null, null]);
  });
});
