import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

/** Requests in flight on each socket whose age is limited. */
const inFlight = new WeakMap<Socket, number>();
/** The socket each request in flight on a limited socket went out on. */
const socketOf = new WeakMap<object, Socket>();
const expired = new WeakSet<Socket>();
let subscribed = false;

function closeIfIdle(socket: Socket): void {
  // Queued before undici's own resume (client-h1.js queues it after `onComplete`), so the
  // socket is closed before the pool hands it the next request.
  if ((inFlight.get(socket) ?? 0) === 0) setImmediate(() => socket.destroy());
}

function requestDone(message: unknown): void {
  const request = (message as { request: object }).request;
  const socket = socketOf.get(request);
  if (socket === undefined) return;
  socketOf.delete(request);
  inFlight.set(socket, Math.max(0, (inFlight.get(socket) ?? 1) - 1));
  if (expired.has(socket)) closeIfIdle(socket);
}

/**
 * undici's public diagnostics channels say which socket a request went out on and when
 * it ended; undici itself has no connection age limit that drains (its Pool `clientTtl`
 * stalls a pool at its `connections` limit). Subscribed once, on first use.
 */
function subscribeOnce(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('undici:client:sendHeaders', (message) => {
    const { request, socket } = message as { request: object; socket: Socket };
    const n = inFlight.get(socket);
    if (n === undefined) return;
    inFlight.set(socket, n + 1);
    socketOf.set(request, socket);
  });
  subscribe('undici:request:trailers', requestDone);
  subscribe('undici:request:error', requestDone);
}

/**
 * `tcp.maxConnectionDuration` for undici: once a socket is `durationMs` old it takes no
 * more requests; an idle one is closed then, a busy one when its request ends (Envoy's
 * upstream connection duration timeout: close an idle connection, drain a busy one;
 * envoy source/common/conn_pool/conn_pool_base.cc onConnectionDurationTimeout).
 */
export function withConnectionAge(
  connect: buildConnector.connector,
  durationMs: number,
): buildConnector.connector {
  subscribeOnce();
  return (options, callback) =>
    connect(options, (...args) => {
      const socket = args[1];
      if (socket !== null) {
        const s: Socket = socket;
        inFlight.set(s, 0);
        const timer = setTimeout(() => {
          expired.add(s);
          closeIfIdle(s);
        }, durationMs);
        timer.unref();
        s.once('close', () => clearTimeout(timer));
      }
      callback(...args);
    });
}
