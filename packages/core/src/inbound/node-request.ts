import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { InboundRequest } from './engine-types.js';
import type { PeerIdentity } from './request-context.js';
import { rawHeaderBytes } from './normalize/header-size.js';

/** What the connection a request arrived on tells the engine, beside the request itself. */
export interface NodeConnectionInfo {
  /** The verified mTLS peer (`InboundHandle.peerOf(socket)`), or null. */
  readonly peer: PeerIdentity | null;
  /** The workload (container) port the request arrived on: PeerAuthentication `portLevelMtls`, `destination.port`. */
  readonly port: number;
  readonly scheme: 'http' | 'https';
}

type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * Header maps are built from instances of this null-prototype constructor, not
 * `Object.create(null)`: the latter starts in V8's dictionary mode, and building one
 * per request cost ~2.5 µs in a profiled Fastify server against ~0.2 µs for these.
 * The prototype chain is one empty null-prototype object: no `constructor`, no
 * `__proto__` accessor, so every header name is plain data.
 */
const HeaderBag = function HeaderBag(): void {} as unknown as new () => HeaderMap;
HeaderBag.prototype = Object.create(null) as object;

/**
 * A copy of a request's headers without the names `drop` lists (lower-case): how a stage
 * hands the later ones a request with headers taken off or added. Null-prototype, so a
 * header named `__proto__` stays data; made only on the paths that edit headers (a request
 * carrying metadata-exchange headers, `xForwardedPort` on), not for every request.
 */
export function copyHeaders(
  headers: InboundRequest['headers'],
  drop: readonly string[] = [],
): Record<string, string | readonly string[] | undefined> {
  const out = Object.create(null) as Record<string, string | readonly string[] | undefined>;
  for (const name in headers) if (!drop.includes(name)) out[name] = headers[name];
  return out;
}

/**
 * Node reports IPv4 peers on dual-stack sockets as `::ffff:a.b.c.d`; Envoy's
 * `source.ip` is the plain IPv4 address, and `ipBlocks` are written that way.
 */
function plainIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Lower-case header names with every repeat kept as its own array element, from
 * `rawHeaders`: node's `req.headers` joins most repeats with `, `, which would hide the
 * multi-valued header the AuthorizationPolicy `request.headers[...]` matcher must see
 * (security.md §4, CVE-2026-31838). A null-prototype object, so a header named
 * `__proto__` is data.
 */
export function headersOf(req: IncomingMessage): HeaderMap {
  const out = new HeaderBag();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (typeof prev === 'string') out[name] = [prev, value];
    else prev.push(value);
  }
  return out;
}

/** The connection facts of a node socket: its local port and whether it is TLS. */
export function nodeConnectionOf(socket: Socket, peer: PeerIdentity | null): NodeConnectionInfo {
  return {
    peer,
    port: socket.localPort ?? 0,
    scheme: (socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http',
  };
}

/** Everything a request takes from its connection; the same for each request it carries. */
export interface ConnectionFacts extends NodeConnectionInfo {
  readonly sourceIp: string;
  readonly sourcePort: number;
  readonly destinationIp: string;
  readonly sni: string | null;
}

function factsOf(socket: Socket | null, options: NodeConnectionInfo): ConnectionFacts {
  const servername = (socket as Partial<TLSSocket> | null)?.servername;
  return {
    peer: options.peer,
    port: options.port,
    scheme: options.scheme,
    sourceIp: plainIp(socket?.remoteAddress),
    sourcePort: socket?.remotePort ?? 0,
    destinationIp: plainIp(socket?.localAddress),
    sni: typeof servername === 'string' && servername !== '' ? servername : null,
  };
}

/** What `socket` tells of a request on it, its verified peer being `peer`. */
export function connectionFactsOf(socket: Socket, peer: PeerIdentity | null): ConnectionFacts {
  return factsOf(socket, nodeConnectionOf(socket, peer));
}

const kFacts = Symbol('meshlet.connectionFacts');

interface FactsSocket extends Socket {
  [kFacts]?: { readonly peers: PeerSource; readonly facts: ConnectionFacts };
}

/** Whether a request on `socket` reached the engine already (its facts were kept). */
export function carriedRequest(socket: Socket): boolean {
  return (socket as FactsSocket)[kFacts] !== undefined;
}

/** Where a connection's verified peer comes from: an `InboundHandle`. */
export interface PeerSource {
  peerOf(socket: Socket): PeerIdentity | null;
}

/**
 * The connection facts of `socket` with its peer from `peers.peerOf`, worked out on the
 * connection's first request and kept on the socket: a keep-alive connection's later
 * requests skip node's address getters (each a native call) and the peer lookup. A
 * connection's addresses, TLS state and verified peer do not change while it is open.
 */
function cachedConnectionFacts(socket: Socket | null, peers: PeerSource): ConnectionFacts | null {
  if (socket === null) return null;
  const s = socket as FactsSocket;
  const kept = s[kFacts];
  if (kept !== undefined && kept.peers === peers) return kept.facts;
  const facts = connectionFactsOf(socket, peers.peerOf(socket));
  s[kFacts] = { peers, facts };
  return facts;
}

function inboundOf(req: IncomingMessage, facts: ConnectionFacts): InboundRequest {
  const headers = headersOf(req);
  const host = headers['host'] ?? headers[':authority'];
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    // Two Host headers are ambiguous; the engine sees the first, and the hosts matcher
    // can never be satisfied by a second one an attacker appended.
    authority: typeof host === 'string' ? host : (host?.[0] ?? ''),
    headers,
    headerCount: req.rawHeaders.length >> 1,
    headerBytes: rawHeaderBytes(req.rawHeaders),
    httpVersion: req.httpVersion,
    scheme: facts.scheme,
    port: facts.port,
    peer: facts.peer,
    sourceIp: facts.sourceIp,
    sourcePort: facts.sourcePort,
    destinationIp: facts.destinationIp,
    sni: facts.sni,
    connection: req.socket,
    bodyStream: req,
  };
}

/**
 * Translates a node `IncomingMessage` into the engine's framework-free
 * `InboundRequest`: method, the request target exactly as received (path, query,
 * and a `#fragment` if the client sent one: the engine strips it, as Envoy does since
 * ISTIO-SECURITY-2021-008), Host / `:authority`, headers, the socket's addresses
 * (`source.ip`, `destination.ip`) and the TLS SNI (`connection.sni`).
 */
export function toInboundRequest(req: IncomingMessage, options: NodeConnectionInfo): InboundRequest {
  return inboundOf(req, factsOf(req.socket, options));
}

/** `toInboundRequest` with the connection facts `cachedConnectionFacts` keeps. */
export function toInboundRequestVia(req: IncomingMessage, peers: PeerSource): InboundRequest {
  const facts = cachedConnectionFacts(req.socket, peers);
  return inboundOf(req, facts ?? factsOf(null, { peer: null, port: 0, scheme: 'http' }));
}
