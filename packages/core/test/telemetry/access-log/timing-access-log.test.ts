import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { listenLikeAdapters } from '../mesh-app.js';
import { loggingMesh } from './support.js';

// Envoy's request timing on the inbound side, the application being the upstream
// (stream_info_formatter.cc REQUEST_DURATION, RESPONSE_DURATION, RESPONSE_TX_DURATION,
// COMMON_DURATION): the request's last byte received, the response's first byte from
// the application, the last byte sent.

const tmp = useTmpDir();
const cleanup = useCleanup();

const FORMAT =
  '%REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION% %DURATION% %COMMON_DURATION(DS_RX_END:US_RX_BEG)% %UPSTREAM_PROTOCOL%';

/** POSTs `body` in two parts, `gapMs` apart; resolves with the status once the response is read. */
function post(port: number, gapMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/upload',
        headers: { 'content-length': '10' },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.write('hello');
    // The gap starts once connected, so the server's clock, which starts at the headers, sees most of it.
    req.on('socket', (socket) => socket.once('connect', () => setTimeout(() => req.end('world'), gapMs)));
  });
}

describe('inbound request timing', () => {
  it('prints when the body arrived and when the application answered, in whole ms', async () => {
    const dir = await tmp();
    const { mesh, lines } = await loggingMesh(
      dir,
      istioConfigMap(`accessLogFile: /dev/stdout\naccessLogFormat: ${JSON.stringify(FORMAT)}`),
      { app: 'reviews' },
    );
    cleanup.mesh(mesh);
    // The application reads the body, waits, answers its headers, waits, then ends.
    const port = await listenLikeAdapters(mesh, (req, res) => {
      req.resume();
      req.on('end', () => {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('a');
          setTimeout(() => res.end('b'), 60);
        }, 60);
      });
    });
    expect(await post(port, 60)).toBe(200);
    await linesBeyond(lines, 0);
    const [requestMs, responseMs, txMs, totalMs, between, protocol] = lines[0]!.split(' ');
    // The client's 60 ms gap, less the time its headers took to reach the server's parser.
    expect(Number(requestMs)).toBeGreaterThanOrEqual(40);
    expect(Number(requestMs)).toBeLessThan(Number(responseMs));
    expect(Number(responseMs)).toBeGreaterThanOrEqual(Number(requestMs) + 55);
    expect(Number(txMs)).toBeGreaterThanOrEqual(55);
    expect(Number(totalMs)).toBeGreaterThanOrEqual(Number(responseMs) + Number(txMs) - 1);
    expect(Number(between)).toBeGreaterThanOrEqual(55);
    expect(protocol).toBe('HTTP/1.1');
  });
});
