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

describe('createMeshServer reply to an unparsable request', () => {
  it('names the server istio-envoy by default on a 400', async () => {
    const { port } = await serverWith(null);
    expect(await exchange(port, 'NOT A REQUEST\r\n\r\n')).toBe(
      'HTTP/1.1 400 Bad Request\r\nserver: istio-envoy\r\nConnection: close\r\n\r\n',
    );
  });

  it('uses proxyHeaders.server.value, on a 431 too', async () => {
    const { port } = await serverWith('defaultConfig:\n  proxyHeaders:\n    server: { value: my-proxy }');
    // Past node's 16 KiB header limit.
    const oversized = `GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(await exchange(port, oversized)).toBe(
      'HTTP/1.1 431 Request Header Fields Too Large\r\nserver: my-proxy\r\nConnection: close\r\n\r\n',
    );
  });

  it('writes no server header when proxyHeaders.server is disabled', async () => {
    const { port } = await serverWith('defaultConfig:\n  proxyHeaders:\n    server: { disabled: true }');
    expect(await exchange(port, 'NOT A REQUEST\r\n\r\n')).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
    );
  });
});
