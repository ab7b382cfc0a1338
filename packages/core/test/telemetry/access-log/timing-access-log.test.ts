import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { listenLikeAdapters } from '../mesh-app.js';
import { loggingMesh } from './support.js';
import { createManualClock } from '../../../src/index.js';

// Envoy's request timing on the inbound side, the application being the upstream
// (stream_info_formatter.cc REQUEST_DURATION, RESPONSE_DURATION, RESPONSE_TX_DURATION,
// COMMON_DURATION): the request's last byte received, the response's first byte from
// the application, the last byte sent.

const tmp = useTmpDir();
const cleanup = useCleanup();

const FORMAT =
  '%REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION% %DURATION% %COMMON_DURATION(DS_RX_END:US_RX_BEG)% %UPSTREAM_PROTOCOL%';

/**
 * POSTs a 10-byte body in two parts: the second once `more` resolves. Resolves with the
 * status once the response is read.
 */
function post(port: number, more: Promise<void>): Promise<number> {
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
    void more.then(() => req.end('world'));
  });
}

describe('inbound request timing', () => {
  it('prints when the body arrived and when the application answered, in whole ms', async () => {
    // The mesh's clock is a manual one: each step below takes exactly 60 ms of it.
    const clock = createManualClock();
    const { mesh, lines } = await loggingMesh(
      await tmp(),
      istioConfigMap(`accessLogFile: /dev/stdout\naccessLogFormat: ${JSON.stringify(FORMAT)}`),
      { app: 'reviews' },
      { clock },
    );
    cleanup.mesh(mesh);
    let sendRest = (): void => undefined;
    const more = new Promise<void>((r) => (sendRest = r));
    // The request's headers arrive at 0 and the rest of its body at 60; the application
    // answers its headers at 120 and ends at 180.
    const port = await listenLikeAdapters(mesh, (req, res) => {
      req.resume();
      req.on('end', () => {
        void (async () => {
          await clock.advance(60);
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('a');
          await clock.advance(60);
          res.end('b');
        })();
      });
      void clock.advance(60).then(sendRest);
    });
    expect(await post(port, more)).toBe(200);
    await linesBeyond(lines, 0);
    const [requestMs, responseMs, txMs, totalMs, between, protocol] = lines[0]!.split(' ');
    expect([requestMs, responseMs, txMs, totalMs, between, protocol]).toEqual([
      '60',
      '120',
      '60',
      '180',
      '60',
      'HTTP/1.1',
    ]);
  });
});
