import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { certSourceFor, httpbin, planFor, startServer } from './support.js';

// The raw reply to a request the HTTP parser rejects carries the `server` header, as every
// response Envoy's connection manager writes does, local replies included (envoy
// source/common/http/conn_manager_impl.cc, server_name with OVERWRITE; the name from Istio's
// proxyHeaders.server, pilot/pkg/networking/util/proxy_headers.go).

/** Send `bytes` on a fresh plaintext connection and collect everything until the server closes. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.connect(port, '127.0.0.1', () => socket.end(bytes));
  });
}

async function serverWith(meshYaml: string | null) {
  const plan = planFor(httpbin('foo'), meshYaml === null ? [] : [{ text: istioConfigMap(meshYaml) }]);
  return startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
}

/** An HTTP date, as the connection manager's `date` header carries it. */
const DATE = String.raw`date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`;

/** Envoy's local reply for a codec error: body, content-length and -type, date, server. */
function envoyReply(status: string, body: string, server: string | null, close: boolean): RegExp {
  const name = server === null ? '' : `server: ${server}\r\n`;
  const head =
    `HTTP/1.1 ${status}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\n` +
    `${DATE}${name}${close ? 'connection: close\r\n' : ''}\r\n`;
  return new RegExp(`^${head.replace(/\r\n/g, '\\r\\n').replace(/\//g, '\\/')}${body}$`);
}

describe('createMeshServer reply to an unparsable request', () => {
  it('answers a 400 as Envoy’s codec does: body, content type, date, istio-envoy, connection: close', async () => {
    const { port } = await serverWith(null);
    expect(await exchange(port, 'NOT A REQUEST\r\n\r\n')).toMatch(
      envoyReply('400 Bad Request', 'Bad Request', 'istio-envoy', true),
    );
  });

  it('uses proxyHeaders.server.value on a 431, which closes the connection without saying so', async () => {
    const { port } = await serverWith('defaultConfig:\n  proxyHeaders:\n    server: { value: my-proxy }');
    // Past the 64 KiB head node reads on the servers meshlet makes (header-size.ts).
    const oversized = `GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`;
    expect(await exchange(port, oversized)).toMatch(
      envoyReply('431 Request Header Fields Too Large', 'Request Header Fields Too Large', 'my-proxy', false),
    );
  });

  it('writes no server header when proxyHeaders.server is disabled', async () => {
    const { port } = await serverWith('defaultConfig:\n  proxyHeaders:\n    server: { disabled: true }');
    expect(await exchange(port, 'NOT A REQUEST\r\n\r\n')).toMatch(
      envoyReply('400 Bad Request', 'Bad Request', null, true),
    );
  });

  it('answers a HEAD request with the headers and no body', async () => {
    const { port } = await serverWith(null);
    const text = await exchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n');
    expect(text.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    expect(text).toContain('\r\ncontent-length: 11\r\n');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });
});
