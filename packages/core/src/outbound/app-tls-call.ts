import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type ClientRequestArgs, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { MeshPlan } from '../compile/plan-types.js';
import { isMeshletError, MeshletError } from '../errors/meshlet-error.js';
import type { CallState } from './call-state.js';
import { PASSTHROUGH_CLUSTER, type UpstreamResult } from './passthrough.js';
import { sniOf, type HeaderRecord, type Target } from './request-input.js';
import { openConnection, type OpenedConnection, type TcpConnectParts } from './tcp-connect.js';

/** What an https call carried by the application's own TLS runs on: `mesh.connect`'s parts. */
export type AppTlsParts = Omit<TcpConnectParts, 'getPlan'>;

/** What a new connection needs, passed along the request options to `createConnection`. */
interface Dial {
  readonly plan: MeshPlan;
  readonly host: string;
  readonly port: number;
  readonly sni: string | null;
  readonly ca: string | Buffer | null;
  readonly where: string;
}

/** An idle kept-alive connection is closed after this long (an application client's own choice). */
const IDLE_MS = 60_000;

/**
 * The application's https connections, kept alive as its own client keeps them: one agent per
 * host, port and trust, whose new connections each go through the tcp_proxy as
 * `mesh.connect`'s do (tcp-connect.ts `openConnection`), with the application's TLS on top.
 */
export class AppTlsPool {
  readonly #parts: AppTlsParts;
  readonly #agents = new Map<string, Agent>();
  /** Where each connection went, by its TLS socket, for the calls it carries. */
  readonly #opened = new WeakMap<object, OpenedConnection>();
  /** A digest of each CA bundle seen, so a call does not hash its `ca` again. */
  readonly #bufferKeys = new WeakMap<Buffer, string>();
  readonly #textKeys = new Map<string, string>();

  constructor(parts: AppTlsParts) {
    this.#parts = parts;
  }

  agentFor(host: string, port: number, ca: string | Buffer | null): Agent {
    const key = `${host}:${port}${ca === null ? '' : `|${this.#caKey(ca)}`}`;
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent = new Agent({ keepAlive: true, timeout: IDLE_MS });
      (agent as unknown as { createConnection: unknown }).createConnection = (
        options: { meshletDial: Dial },
        done: (err: Error | null, socket?: Duplex) => void,
      ): undefined => {
        this.#dial(options.meshletDial).then(
          (socket) => done(null, socket),
          (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
        );
        return undefined;
      };
      this.#agents.set(key, agent);
    }
    return agent;
  }

  #caKey(ca: string | Buffer): string {
    const known = typeof ca === 'string' ? this.#textKeys.get(ca) : this.#bufferKeys.get(ca);
    if (known !== undefined) return known;
    const key = createHash('sha256').update(ca).digest('hex');
    if (typeof ca !== 'string') this.#bufferKeys.set(ca, key);
    else {
      // A few bundles at most; a caller minting new text each call must not grow this.
      if (this.#textKeys.size >= 64) this.#textKeys.clear();
      this.#textKeys.set(ca, key);
    }
    return key;
  }

  /** Where the connection behind `socket` went; undefined before it is up. */
  openedOf(socket: object): OpenedConnection | undefined {
    return this.#opened.get(socket);
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  async #dial(d: Dial): Promise<Socket> {
    const opened = await openConnection(
      this.#parts,
      d.plan,
      { host: d.host, port: d.port, servername: d.sni },
      d.where,
    );
    const secure = tlsConnect({
      socket: opened.conn,
      host: d.host,
      ...(d.sni === null ? {} : { servername: d.sni }),
      ...(d.ca === null ? {} : { ca: d.ca }),
      ALPNProtocols: ['http/1.1'],
    });
    secure.once('close', () => opened.conn.destroy());
    this.#opened.set(secure, opened);
    return secure;
  }
}

/**
 * An https call the mesh does not originate TLS for (no HTTP route configuration for its
 * host and port): a sidecar sees only the application's TLS there. Its connection goes
 * where `mesh.connect`'s would (tcp-connect.ts): a TCP port's route, the chain of a TLS
 * port's listener for the SNI (a VirtualService `tls` rule's destinations, else the
 * service's default cluster), else the PassthroughCluster (the URL's host), or the
 * BlackHoleCluster under REGISTRY_ONLY; reported in `istio_tcp_*` as the source. The TLS
 * inside is the application's own, end to end with the server, which must prove the URL's
 * name against `ca` (else Node's roots); its connections are kept alive, as an application's
 * client keeps them through a sidecar (AppTlsPool). No HTTP-level mesh work happens on it:
 * no retries, timeouts, header operations, request id, metadata exchange headers or
 * `istio_requests_total`.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT`: refused by the tcp_proxy (`NC`,
 * `UH`, `UO`, `UF`, BlackHoleCluster), or the application's TLS or HTTP failed on the
 * connection.
 */
export function sendOverApplicationTls(
  pool: AppTlsPool,
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
  const where = `mesh.fetch: https://${target.authority}`;
  state.viaTcpProxy = true;
  state.attempts = 1;
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const dial: Dial = { plan, host, port: target.port, sni: sniOf(target.hostname), ca: request.ca, where };
  return new Promise<UpstreamResult>((resolve, reject) => {
    let opened: OpenedConnection | undefined;
    const fail = (err: Error): void => {
      if (request.signal?.aborted === true) reject(request.signal.reason as Error);
      // The tcp_proxy's own refusal (a flag, or the BlackHoleCluster) as mesh.connect gives it.
      else if (isMeshletError(err)) reject(err);
      else
        reject(
          new MeshletError(
            'MESHLET_ERR_OUTBOUND_CONNECT',
            `${where}: the application's TLS or HTTP on the connection failed (${err.message})`,
            { flags: [], route: opened?.route?.id ?? null, reason: err.message },
            { cause: err },
          ),
        );
    };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = typeof v === 'string' ? v : [...v];
    headers['host'] = target.authority;
    const options: ClientRequestArgs & { meshletDial: Dial } = {
      host,
      port: target.port,
      method: request.method,
      path: target.path,
      headers,
      agent: pool.agentFor(host, target.port, request.ca),
      meshletDial: dial,
    };
    const req = httpRequest(options);
    req.on('error', fail);
    req.on('socket', (socket) => {
      state.upstreamConnection = socket;
      // The agent hands over a connection once the pool has opened it, new or kept alive.
      opened = pool.openedOf(socket);
      if (opened !== undefined) record(state, opened, host, target.port);
    });
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
      req.once('close', () => signal.removeEventListener('abort', abort));
    }
    const body = request.body;
    if (body === null) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** `res.meshlet` for the connection a call went over. */
function record(state: CallState, opened: OpenedConnection, host: string, port: number): void {
  state.route = opened.route?.id ?? null;
  const upstream = opened.upstream;
  if (upstream === null) {
    state.cluster = PASSTHROUGH_CLUSTER;
    state.upstream = { host, subset: null, address: `${host}:${port}`, cluster: PASSTHROUGH_CLUSTER };
    return;
  }
  const { cluster, host: picked } = upstream;
  state.cluster = cluster.key;
  state.service = cluster.host;
  state.endpoint = picked.endpoint;
  state.upstream = { host: cluster.host, subset: cluster.subset, address: picked.id, cluster: cluster.key };
}

function headerRecord(h: IncomingHttpHeaders): HeaderRecord {
  const out: HeaderRecord = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = v;
  return out;
}
