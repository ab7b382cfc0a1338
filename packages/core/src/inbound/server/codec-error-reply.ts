import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RefusedRequest } from '../codec-refusal-report.js';
import { carriedRequest, connectionFactsOf } from '../node-request.js';
import {
  codecRefusalOf,
  localReplyOf,
  type CodecRefusal,
  type LocalReply,
  type ParseError,
} from './codec-refusal.js';
import { connectionPeerOf } from './peer-registry.js';

/** node's parse error, as `clientError` hands it over. */
export interface ClientError extends ParseError {
  /** The chunk the parser was reading when it failed. */
  readonly rawPacket?: unknown;
}

/** How a mesh server answers what its HTTP parser refused. */
export interface CodecErrorOptions {
  /** The `server` header of the reply (proxyHeaders.server), null for none. */
  readonly server: string | null;
  /** Told of each refused request that no response was under way for. */
  readonly onRefusal?: ((r: RefusedRequest) => void) | undefined;
  /** Epoch ms now (`%START_TIME%`). */
  readonly now: () => number;
}

/** A codec refusal answered while a request was in flight on its connection. */
export interface InFlightRefusal {
  readonly refusal: CodecRefusal;
  readonly reply: LocalReply;
}

// Keyed by the connection: the in-flight request's telemetry reads it when its response
// ends unfinished (node-observe.ts), as Envoy's stream ends with the codec's local reply.
const answeredInFlight = new WeakMap<Socket, InFlightRefusal>();

/** The codec reply that ended the request in flight on `socket`, if one did. */
export function inFlightRefusalOn(socket: Socket | null): InFlightRefusal | undefined {
  return socket === null ? undefined : answeredInFlight.get(socket);
}

/** The response a request in flight on `socket` is answered with, if any (node's own bookkeeping). */
function inFlight(socket: Socket): ServerResponse | null {
  return (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
}

/**
 * The wire bytes of the refused request, as Envoy's stream counts them: on a connection that
 * carried none before, everything read on it (node's error holds only the chunk it was
 * parsing, and a head past 64 KiB spans several); after a request, that chunk.
 */
function refusedBytes(socket: Socket, raw: Buffer | null): number {
  if (raw === null) return 0;
  return carriedRequest(socket) ? raw.length : Math.max(raw.length, socket.bytesRead);
}

/**
 * Answers a request node's HTTP parser refused as Envoy's HTTP/1 codec does
 * (codec-refusal.ts), then closes the connection; and reports it (`onRefusal`) when it came
 * before any request in flight, as a request the mesh never handed the application. A request
 * in flight whose body the parser refused (a bad chunk) gets the same reply when its response
 * has not started, and its own telemetry reports it (`inFlightRefusalOn`). Once a
 * response has started on the connection it is only destroyed, as node and Envoy do. node's
 * request and header timeouts (not the codec's) keep node's 408.
 */
export function answerCodecError(err: ClientError, socket: Socket, options: CodecErrorOptions): void {
  const pending = inFlight(socket);
  if (!socket.writable || pending?.headersSent === true) {
    socket.destroy();
    return;
  }
  const refusal = codecRefusalOf(err);
  if (refusal === null) {
    const server =
      options.server === null || /[\r\n\0]/.test(options.server) ? '' : `server: ${options.server}\r\n`;
    socket.end(`HTTP/1.1 408 Request Timeout\r\n${server}Connection: close\r\n\r\n`);
    return;
  }
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : null;
  const head = raw !== null && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
  const start = options.now();
  const reply = localReplyOf(refusal, { server: options.server, date: new Date(start).toUTCString(), head });
  socket.end(reply.text);
  if (pending !== null) {
    answeredInFlight.set(socket, { refusal, reply });
    return;
  }
  if (options.onRefusal === undefined) return;
  options.onRefusal({
    refusal,
    ...connectionFactsOf(socket, connectionPeerOf(socket)?.peer ?? null),
    connection: socket,
    startEpoch: start,
    durationMs: 0,
    requestBytes: refusedBytes(socket, raw),
    replyHeaderBytes: reply.headerBytes,
    replyBodyBytes: reply.bodyBytes,
    replyHeaders: reply.headers,
  });
}
