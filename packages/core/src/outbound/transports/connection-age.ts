import type { Agent } from 'node:http';
import type { Socket } from 'node:net';
import type { PoolSettings } from './pool-settings.js';

type CreateConnection = (this: Agent, ...args: unknown[]) => Socket | undefined;

/** Whether `socket` sits in the agent's free list (connected, serving no request). */
function isFree(agent: Agent, socket: Socket): boolean {
  for (const list of Object.values(agent.freeSockets)) if (list?.includes(socket)) return true;
  return false;
}

/**
 * `tcp.tcpKeepalive.time` and `tcp.maxConnectionDuration` on the sockets a Node agent
 * opens. Keep-alive probes start after `time` (the agent's `keepAliveMsecs` keeps it when
 * the socket is freed). With a duration, each socket gets one unref'd timer: when it
 * fires, an idle socket is closed and a busy one is returned as expired, so the agent's
 * `free` listener closes it when its request ends and no request goes on it after that
 * (Envoy's upstream connection duration timeout: close an idle connection, drain a busy
 * one; envoy source/common/conn_pool/conn_pool_base.cc onConnectionDurationTimeout).
 * Returns the expired check for that listener, or null when nothing is watched.
 */
export function watchConnectionAge(
  agent: Agent,
  settings: PoolSettings,
): ((socket: Socket) => boolean) | null {
  const durationMs = settings.maxConnectionDurationMs;
  const keepaliveMs = settings.keepaliveTimeMs;
  if (durationMs <= 0 && keepaliveMs === null) return null;
  const expired = new WeakSet<Socket>();
  const holder = agent as unknown as { createConnection: CreateConnection };
  const create = holder.createConnection;
  holder.createConnection = function (this: Agent, ...args: unknown[]) {
    const socket = create.apply(this, args);
    if (socket === undefined) return socket;
    if (keepaliveMs !== null) socket.setKeepAlive(true, keepaliveMs);
    if (durationMs > 0) {
      const timer = setTimeout(() => {
        expired.add(socket);
        if (isFree(agent, socket)) socket.destroy();
      }, durationMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    return socket;
  };
  return (socket) => expired.has(socket);
}
