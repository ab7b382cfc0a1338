import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { MeshPlan, TcpRoute } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CallState } from './call-state.js';
import type { UpstreamResult } from './passthrough.js';
import { sniOf, type HeaderRecord, type Target } from './request-input.js';
import { openRouted, type TcpConnectParts } from './tcp-connect.js';

/** What an https call through a sidecar's TLS chain runs on: `mesh.connect`'s parts. */
export type TlsChainParts = Omit<TcpConnectParts, 'getPlan'>;

/**
 * An https call on a TLS or HTTPS service port that a VirtualService `tls` rule routes for
 * its SNI (sidecar-tls-routes.ts). A sidecar sees only the application's TLS there: its
 * tcp_proxy takes the connection to the rule's destination (weights, load balancer,
 * `maxConnections`, auto mTLS, `istio_tcp_*` as the source), and the TLS inside is the
 * application's own, end to end with the server, which must prove the URL's name against
 * `ca` (else Node's roots). One connection per call (`Connection: close`), as an
 * application's client without keep-alive makes. No HTTP-level mesh work happens on it:
 * no retries, timeouts, header operations, metadata exchange or `istio_requests_total`.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT`: refused by the tcp_proxy (`NC`,
 * `UH`, `UO`, `UF`), or the application's TLS or HTTP failed on the connection.
 */
export async function sendThroughTlsChain(
  parts: TlsChainParts,
  plan: MeshPlan,
  state: CallState,
  target: Target,
  route: TcpRoute,
  request: {
    readonly method: string;
    readonly headers: HeaderRecord;
    readonly body: Buffer | Readable | null;
    readonly signal: AbortSignal | null;
    readonly ca: string | Buffer | null;
  },
): Promise<UpstreamResult> {
  const sni = sniOf(target.hostname);
  const where = `mesh.fetch: https://${target.authority}`;
  state.route = route.id;
  state.viaTcpProxy = true;
  const routed = await openRouted(parts, plan, route, sni, where);
  const { conn, cluster, host } = routed;
  state.attempts = 1;
  state.cluster = cluster.key;
  state.service = cluster.host;
  state.endpoint = host.endpoint;
  state.upstream = { host: cluster.host, subset: cluster.subset, address: host.id, cluster: cluster.key };
  const secure = tlsConnect({
    socket: conn,
    host: target.hostname,
    ...(sni === null ? {} : { servername: sni }),
    ...(request.ca === null ? {} : { ca: request.ca }),
    ALPNProtocols: ['http/1.1'],
  });
  state.upstreamConnection = secure;
  return new Promise<UpstreamResult>((resolve, reject) => {
    const fail = (err: Error): void => {
      conn.destroy();
      if (request.signal?.aborted === true) reject(request.signal.reason as Error);
      else
        reject(
          new MeshletError(
            'MESHLET_ERR_OUTBOUND_CONNECT',
            `${where}: the application's TLS or HTTP on the connection failed (${err.message})`,
            { flags: [], route: route.id, reason: err.message },
            { cause: err },
          ),
        );
    };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = typeof v === 'string' ? v : [...v];
    headers['host'] = target.authority;
    const req = httpRequest({
      method: request.method,
      path: target.path,
      headers,
      // No agent: the request runs on this connection alone and asks to close it.
      createConnection: () => secure,
    });
    req.on('error', fail);
    req.on('response', (res) => {
      resolve({
        kind: 'upstream',
        status: res.statusCode ?? 0,
        headers: headerRecord(res.headers),
        body: res,
      });
    });
    const signal = request.signal;
    if (signal !== null) {
      const abort = (): void => {
        req.destroy(signal.reason as Error);
      };
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
      conn.once('close', () => signal.removeEventListener('abort', abort));
    }
    const body = request.body;
    if (body === null) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

function headerRecord(h: IncomingHttpHeaders): HeaderRecord {
  const out: HeaderRecord = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = v;
  return out;
}
