import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Told once when its response is done: finished, or its connection closed first. */
export interface ResponseWatcher {
  /**
   * `wireBytes`: the bytes the connection carried for this response (status line,
   * headers, body, chunk framing), when known; null when the connection closed first
   * or no connection was watched.
   */
  responseDone(wireBytes: number | null): void;
}

const kWatcher = Symbol('meshlet.responseWatcher');
const kPending = Symbol('meshlet.pendingResponses');
const kWritten = Symbol('meshlet.bytesWrittenAtLastFinish');

interface WatchedResponse extends ServerResponse {
  [kWatcher]?: ResponseWatcher | undefined;
}
interface WatchedSocket extends Socket {
  [kPending]?: Set<ResponseWatcher>;
  [kWritten]?: number;
  /** Set by node's http server on every connection it serves. */
  server?: unknown;
}

let subscribed = false;

function onResponseFinish(message: unknown): void {
  const { response, socket } = message as { response?: WatchedResponse; socket?: WatchedSocket };
  const watcher = response?.[kWatcher];
  if (watcher === undefined) return;
  response![kWatcher] = undefined;
  if (socket === undefined) {
    watcher.responseDone(null);
    return;
  }
  socket[kPending]?.delete(watcher);
  // HTTP/1.1 answers a connection's requests in order, and node publishes each finish
  // before it starts writing the next queued response: the bytes written since the
  // previous finish are this response's, even for pipelined requests.
  const written = socket.bytesWritten;
  const bytes = written - (socket[kWritten] ?? 0);
  socket[kWritten] = written;
  watcher.responseDone(bytes);
}

/**
 * Calls `watcher.responseDone()` when `res` has finished, or when its connection closed
 * before it did (Envoy's `DC`).
 *
 * On a connection node's http server serves, this costs no listener per request: one
 * subscriber to node's `http.server.response.finish` diagnostics channel (published as
 * each response finishes, before the socket is detached) and one `close` listener per
 * connection. Two listeners on every response cost ~10 µs per request in a Fastify
 * server here: `finish` already has node's own listener, so a second one turns it into
 * an array that `emit` copies each time, and V8 fell off its fast paths around it.
 * Responses without such a connection (Fastify's `inject`) are watched with listeners.
 */
export function watchResponse(req: IncomingMessage, res: ServerResponse, watcher: ResponseWatcher): void {
  const socket = req.socket as WatchedSocket | null;
  if (socket === null || socket.server === undefined) {
    const done = (): void => watcher.responseDone(null);
    res.on('finish', done);
    res.on('close', done);
    return;
  }
  if (!subscribed) {
    subscribe('http.server.response.finish', onResponseFinish);
    subscribed = true;
  }
  (res as WatchedResponse)[kWatcher] = watcher;
  let pending = socket[kPending];
  if (pending === undefined) {
    const set = new Set<ResponseWatcher>();
    socket[kPending] = pending = set;
    socket.once('close', () => {
      for (const w of set) w.responseDone(null);
      set.clear();
    });
  }
  pending.add(watcher);
}
