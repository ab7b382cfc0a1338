import http from 'node:http';
import { toTransportError } from '../../../../src/outbound/transports/failure.js';
import {
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
        // The shipped transports' error mapping (failure kind, transport failure reason).
        r.on('error', (err: NodeJS.ErrnoException) =>
          reject(toTransportError(err, { aborted: req.signal?.aborted === true, beforeRequestSent: !sent })),
        );
        if (req.body === null) r.end();
        else if (Buffer.isBuffer(req.body)) r.end(req.body);
        else req.body.pipe(r);
      }),
  };
}
