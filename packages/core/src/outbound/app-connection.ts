import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { MeshletError } from '../errors/meshlet-error.js';
import { NODE_MAX_HEADER_SIZE } from '../inbound/normalize/header-size.js';
import { duplexPair, type PairedEnd } from '../runtime/duplex-pair.js';
import type { OutboundClient } from './client.js';
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js';
import { headersOf } from '../inbound/node-request.js';
import type { HeaderRecord } from './request-input.js';
import {
  acceptUpgrade,
  h2cBody,
  joinUpgraded,
  UPGRADE_FAILED,
  upgradeToken,
  type ClientUpgrade,
} from './upgrade-relay.js';
import { upgradedOf } from './upgraded-response.js';
import { clientGoneSignal, relayedBody, relayFailure, relayResponse } from './relay-response.js';

/** Where an application's connection goes: what it asked `createConnection` for. */
export interface AppConnectionTarget {
  /** The host it dials (`hostname` or `host`, as node's and ws's clients pass them). */
  readonly host?: string | null;
  readonly hostname?: string | null;
  readonly port?: number | string | null;
}

/**
 * What else node's `https.request` (and `ws`, through it) passes: its https agent, the CAs the
 * client trusts, and the request's headers. Read, not declared on {@link AppConnectionTarget},
 * so that `mesh.createConnection` stays assignable to node's and ws's `createConnection`.
 */
interface ClientOptions {
  readonly _defaultAgent?: { readonly protocol?: unknown } | null;
  readonly ca?: unknown;
  readonly headers?: unknown;
}

/** The in-process outbound listener: connections for an application's HTTP client, and their end. */
export interface AppConnections {
  /**
   * A connection to the sidecar's outbound listener for `target`, in process: what the
   * application's client writes on it is HTTP/1.1 to the service it dials, and goes out
   * through the mesh as `mesh.fetch` sends it; WebSocket upgrades included.
   */
  createConnection(target?: AppConnectionTarget | null): Duplex;
  /** Ends every connection made. */
  close(): void;
}

/** Where a connection goes, and whether its client meant it to be TLS (with the CAs it trusts). */
interface Dialled {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly ca: string | Buffer | undefined;
}

/** The connection's destination, kept on the listener's end. */
const TARGETS = new WeakMap<object, Dialled>();

/**
 * Whether the client expects the connection to be TLS already: node's `https.request` (and a
 * `wss://` WebSocket, which uses it) hands `createConnection` its options with its https agent
 * as `_defaultAgent`, where it would otherwise call `tls.connect`.
 */
function wantsTls(t: AppConnectionTarget): boolean {
  return (t as ClientOptions)._defaultAgent?.protocol === 'https:';
}

function isUpgrade(t: AppConnectionTarget): boolean {
  const headers = (t as ClientOptions).headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return false;
  return Object.keys(headers).some((k) => k.toLowerCase() === 'upgrade');
}

/** node's `ca`: one PEM (text or Buffer) or a list of them. */
function caOf(t: AppConnectionTarget | null | undefined): string | Buffer | undefined {
  const ca = (t as ClientOptions | null | undefined)?.ca;
  if (typeof ca === 'string' || Buffer.isBuffer(ca)) return ca;
  if (!Array.isArray(ca)) return undefined;
  return ca.filter((c): c is string | Buffer => typeof c === 'string' || Buffer.isBuffer(c)).join('\n');
}

/** What a `wss://` WebSocket's connection fails with. */
function wssRefused(): MeshletError {
  return new MeshletError(
    'MESHLET_ERR_OUTBOUND_URL',
    'mesh.createConnection: a wss:// WebSocket expects a TLS connection of its own; dial ws:// ' +
      'instead: the mesh originates the TLS (mutual TLS to mesh services, a DestinationRule `tls` ' +
      'for others)',
    { option: 'protocol' },
  );
}

function targetOf(t: AppConnectionTarget | null | undefined): Dialled {
  const tls = t !== null && t !== undefined && wantsTls(t);
  const host = t?.hostname ?? t?.host ?? 'localhost';
  const port = t?.port === undefined || t.port === null || t.port === '' ? 80 : Number(t.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new MeshletError(
      'MESHLET_ERR_OUTBOUND_URL',
      `mesh.createConnection: port must be 1-65535 (got ${JSON.stringify(t?.port)})`,
      { option: 'port' },
    );
  return { host: host.replace(/^\[|\]$/g, ''), port, tls, ca: tls ? caOf(t) : undefined };
}

/** The request's headers as the application wrote them, repeats kept, hop-by-hop dropped. */
function requestHeaders(req: IncomingMessage): HeaderRecord {
  const out = headersOf(req) as Record<string, string | string[]>;
  for (const name of HOP_BY_HOP_HEADERS) delete out[name];
  delete out['http2-settings'];
  return out;
}

const NOWHERE: Dialled = { host: 'localhost', port: 80, tls: false, ca: undefined };

/**
 * The URL a request on the connection goes to: `https://` when its client meant TLS, sent as
 * the application's own TLS (as a sidecar passes an application's TLS through), never as
 * plaintext to a port that speaks TLS.
 */
function urlOf(req: IncomingMessage): string {
  const t = TARGETS.get(req.socket) ?? NOWHERE;
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.tls ? 'https' : 'http'}://${host}:${t.port}${req.url ?? '/'}`;
}

/** `init.ca` for a TLS client's request: the CAs it trusts. */
function caInit(req: IncomingMessage): { ca?: string | Buffer } {
  const ca = TARGETS.get(req.socket)?.ca;
  return ca === undefined ? {} : { ca };
}

function fail(res: ServerResponse, err: unknown): void {
  relayFailure(res, err, 502, 'meshlet');
}

/**
 * The sidecar's outbound HTTP listener, in process, for clients that take a connection
 * rather than a URL (`http.request({ createConnection })`, the `ws` client's
 * `createConnection`): a node HTTP server that never listens, fed one end of an in-process
 * connection per call to `createConnection`, each request on it sent with `send` to the
 * dialled host and port (the application's Host header routing it, as the sidecar's
 * outbound listener routes by the called port and the authority). An upgrade is proxied
 * as the sidecar's connection manager does: `websocket` through the pipeline (a 101 joins
 * the two connections), `h2c` served as a plain request, any other token `403`
 * `upgrade_failed` (upgrade-relay.ts). `websockets` false: the transport carries no upgrade.
 */
export function createAppConnections(send: OutboundClient['send'], websockets: boolean): AppConnections {
  const open = new Set<PairedEnd>();
  // As the sidecar's listener reads them: up to Envoy's 60 KiB of headers, which the
  // pipeline's codec check then applies (pipeline.ts codecRefusal).
  const server = http.createServer({ maxHeaderSize: NODE_MAX_HEADER_SIZE }, (req, res) => {
    void forward(req, res).catch((err: unknown) => fail(res, err));
  });

  /** A plain request: its body read first when small enough for a retry to send it again. */
  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const signal = clientGoneSignal(res, 'the application closed the connection');
    const body = await relayedBody(req);
    const init = {
      method: req.method ?? 'GET',
      headers: requestHeaders(req),
      signal,
      ...(body === undefined ? {} : { body }),
      ...caInit(req),
    };
    relayResponse(res, await send(urlOf(req), init, {}));
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { res, client } = acceptUpgrade(req, socket, head);
    void relay(req, res, client).catch((err: unknown) => fail(res, err));
  });

  async function relay(req: IncomingMessage, res: ServerResponse, client: ClientUpgrade): Promise<void> {
    const token = upgradeToken(req, websockets);
    const body = token === 'h2c' ? await h2cBody(req, client) : null;
    const init = {
      method: req.method ?? 'GET',
      headers: requestHeaders(req),
      signal: clientGoneSignal(res, 'the application closed the connection'),
      ...(body === null ? {} : { body }),
    };
    const r = await send(
      urlOf(req),
      init,
      token === 'refused' ? { answered: UPGRADE_FAILED } : token === 'websocket' ? { upgrade: token } : {},
    );
    const upstream = upgradedOf(r);
    if (upstream === null) relayResponse(res, r);
    else joinUpgraded(res, client, r, upstream, {});
  }

  return {
    createConnection(target) {
      const where = targetOf(target);
      const [app, listener] = duplexPair();
      if (where.tls && target !== null && target !== undefined && isUpgrade(target)) {
        // Its client calls this from inside node's request machinery: a throw would escape as
        // an uncaught exception. The connection fails instead, so the WebSocket emits the error.
        const err = wssRefused();
        listener.on('error', () => {});
        process.nextTick(() => app.destroy(err));
        return app;
      }
      TARGETS.set(listener, where);
      open.add(app);
      app.once('close', () => open.delete(app));
      server.emit('connection', listener);
      return app;
    },
    close() {
      for (const end of open) end.destroy();
      open.clear();
    },
  };
}
