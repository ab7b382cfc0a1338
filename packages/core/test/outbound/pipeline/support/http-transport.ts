import http from 'node:http';
import {
  TransportError,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from '../../../../src/outbound/transport.js';

/** A minimal real transport over `node:http` (plain `http.request`), for the loopback tests. */
export function createHttpTransport(): Transport & { readonly agent: http.Agent } {
  const agent = new http.Agent({ keepAlive: true });
  return {
    name: 'node-http',
    agent,
    close: () => {
      agent.destroy();
      return Promise.resolve();
    },
    request: (req: TransportRequest) =>
      new Promise<TransportResponse>((resolve, reject) => {
        let sent = false;
        const r = http.request(
          req.url,
          {
            method: req.method,
            headers: Buffer.isBuffer(req.body)
              ? { ...req.headers, 'content-length': String(req.body.length) }
              : (req.headers as http.OutgoingHttpHeaders),
            agent,
            signal: req.signal ?? undefined,
          },
          (res) =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers as TransportResponse['headers'],
              body: res,
            }),
        );
        r.on('finish', () => {
          sent = true;
        });
        r.on('error', (err: NodeJS.ErrnoException) => {
          if (req.signal?.aborted === true)
            reject(new TransportError('aborted', err.message, !sent, { cause: err }));
          else if (err.code === 'ECONNREFUSED')
            reject(new TransportError('connect-failure', err.message, true, { cause: err }));
          else reject(new TransportError('reset', err.message, !sent, { cause: err }));
        });
        if (req.body === null) r.end();
        else if (Buffer.isBuffer(req.body)) r.end(req.body);
        else req.body.pipe(r);
      }),
  };
}
