import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CallState } from './call-state.js';
import { PASSTHROUGH_CLUSTER, type UpstreamResult } from './passthrough.js';
import { sniOf, type HeaderRecord, type Target } from './request-input.js';
import { openConnection, type TcpConnectParts } from './tcp-connect.js';

/** What an https call carried by the application's own TLS runs on: `mesh.connect`'s parts. */
export type AppTlsParts = Omit<TcpConnectParts, 'getPlan'>;

/**
 * An https call the mesh does not originate TLS for (no HTTP route configuration for its
 * host and port): a sidecar sees only the application's TLS there. Its connection goes
 * where `mesh.connect`'s would (tcp-connect.ts): a TCP port's route, the chain of a TLS
 * port's listener for the SNI (a VirtualService `tls` rule's destinations, else the
 * service's default cluster), else the PassthroughCluster (the URL's host), or the
 * BlackHoleCluster under REGISTRY_ONLY; reported in `istio_tcp_*` as the source. The TLS
 * inside is the application's own, end to end with the server, which must prove the URL's
 * name against `ca` (else Node's roots). One connection per call (`Connection: close`),
 * as an application's client without keep-alive makes. No HTTP-level mesh work happens
 * on it: no retries, timeouts, header operations, request id, metadata exchange headers or
 * `istio_requests_total`.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT`: refused by the tcp_proxy (`NC`,
 * `UH`, `UO`, `UF`, BlackHoleCluster), or the application's TLS or HTTP failed on the
 * connection.
 */
export async function sendOverApplicationTls(
  parts: AppTlsParts,
  plan: MeshPlan,
  state: CallState,
  target: Target,
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
  state.viaTcpProxy = true;
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const opened = await openConnection(parts, plan, { host, port: target.port, servername: sni }, where);
  const { conn, route, upstream } = opened;
  state.attempts = 1;
  state.route = route?.id ?? null;
  if (upstream === null) {
    state.cluster = PASSTHROUGH_CLUSTER;
    state.upstream = { host, subset: null, address: `${host}:${target.port}`, cluster: PASSTHROUGH_CLUSTER };
  } else {
    const { cluster, host: picked } = upstream;
    state.cluster = cluster.key;
    state.service = cluster.host;
    state.endpoint = picked.endpoint;
    state.upstream = { host: cluster.host, subset: cluster.subset, address: picked.id, cluster: cluster.key };
  }
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
            { flags: [], route: route?.id ?? null, reason: err.message },
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
