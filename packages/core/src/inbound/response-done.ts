import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Told once when its response is done: finished, or its connection closed first. */
export interface ResponseWatcher {
  /** The response watched. */
  readonly response: ServerResponse;
  /**
   * `wireBytes`: the bytes the connection carried for this response (status line,
   * headers, body, chunk framing), when known; null when the connection closed first
   * or no connection was watched. `finished`: the response was complete; false when the
   * connection (or the response) closed before it was (Envoy's `DC`).
   */
  responseDone(wireBytes: number | null, finished: boolean): void;
}

const kPending = Symbol('meshlet.pendingResponses');
const kWritten = Symbol('meshlet.bytesWrittenAtLastFinish');

interface WatchedSocket extends Socket {
  /** The connection's watched responses, in the order they were started. */
  [kPending]?: ResponseWatcher[];
  [kWritten]?: number;
  /** Set by node's http server on every connection it serves. */
  server?: unknown;
}

let subscribed = false;

function onResponseFinish(message: unknown): void {
  const { response, socket } = message as { response?: ServerResponse; socket?: WatchedSocket };
  const pending = socket?.[kPending];
  if (pending === undefined || pending.length === 0) return;
  // HTTP/1.1 finishes a connection's responses in the order their requests came, so the
  // watcher is the first in line; an unwatched response finds none.
  let i = 0;
  while (i < pending.length && pending[i]!.response !== response) i++;
  if (i === pending.length) return;
  const watcher = pending[i]!;
  // A keep-alive connection's queue holds one response: `pop` empties it without
  // shifting the backing store as `shift` does.
  if (pending.length === 1) pending.pop();
  else if (i === 0) pending.shift();
  else pending.splice(i, 1);
  // Node publishes each finish before it starts writing the next queued response: the
  // bytes written since the previous finish are this response's, even when pipelined.
  const written = socket!.bytesWritten;
  const bytes = written - (socket![kWritten] ?? 0);
  socket![kWritten] = written;
  watcher.responseDone(bytes, true);
}

/**
 * Calls `watcher.responseDone()` when `watcher.response` has finished, or when its connection closed
 * before it did (Envoy's `DC`).
 *
 * On a connection node's http server serves, this costs no listener per request: one
 * subscriber to node's `http.server.response.finish` diagnostics channel (published as
 * each response finishes, before the socket is detached) and one `close` listener per
 * connection (its queue of watched responses). Two listeners on every response cost ~10 µs per request in a Fastify
 * server here: `finish` already has node's own listener, so a second one turns it into
 * an array that `emit` copies each time, and V8 fell off its fast paths around it.
 * Responses without such a connection (Fastify's `inject`), and the response an upgrade
 * request is refused with (upgrade-guard.ts), are watched with listeners.
 */
export function watchResponse(req: IncomingMessage, watcher: ResponseWatcher): void {
  const socket = req.socket as WatchedSocket | null;
  // An upgrade request's response is the upgrade guard's own, off node's response queue.
  if (socket === null || socket.server === undefined || (req as { upgrade?: boolean }).upgrade === true) {
    // A response `close`s after its `finish` too: the first of the two says which it was.
    let told = false;
    const done = (finished: boolean): void => {
      if (told) return;
      told = true;
      watcher.responseDone(null, finished);
    };
    watcher.response.on('finish', () => done(true));
    watcher.response.on('close', () => done(false));
    return;
  }
  if (!subscribed) {
    subscribe('http.server.response.finish', onResponseFinish);
    subscribed = true;
  }
  let pending = socket[kPending];
  if (pending === undefined) {
    const queue: ResponseWatcher[] = [];
    socket[kPending] = pending = queue;
    socket.once('close', () => {
      for (const w of queue.splice(0)) w.responseDone(null, false);
    });
  }
  pending.push(watcher);
}
