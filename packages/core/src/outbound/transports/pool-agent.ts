import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { watchConnectionAge } from './connection-age.js';
import type { PoolSettings } from './pool-settings.js';
import { clientTlsOptions, type PeerCheck } from './tls-options.js';

/** A Node agent for one `poolKey`, with a way to drain it when its settings change. */
export interface PoolAgent {
  readonly agent: HttpAgent;
  /** The same agent, in the shape got's `agent` option takes. */
  readonly agents: { readonly http?: HttpAgent; readonly https?: HttpsAgent };
  readonly settings: PoolSettings;
  readonly check: PeerCheck;
  /** Close idle sockets now and every busy one as soon as its request ends. */
  retire(): void;
  /** Destroy every socket. */
  destroy(): void;
}

/**
 * One keep-alive agent per cluster endpoint: `maxSockets` = `tcp.maxConnections`,
 * idle sockets closed after `idleTimeout`, `tcp.maxConnectionDuration` and
 * `tcpKeepalive.time` (connection-age.ts), and `http.maxRequestsPerConnection` by
 * counting finished requests per socket. Node hands a freed socket straight to a
 * queued request before asking `keepSocketAlive`, so the count is enforced in a
 * `free` listener that runs before the agent's own and destroys the socket at the
 * limit; the agent then opens a new one for the queue (Envoy closes the upstream
 * connection after `max_requests_per_connection`, see its `http/conn_pool_base`).
 */
export function createPoolAgent(settings: PoolSettings, secure: boolean): PoolAgent {
  const check: PeerCheck = { verifyPeer: settings.tls?.verifyPeer ?? null };
  const limit = settings.maxRequestsPerConnection;
  const options: AgentOptions = {
    keepAlive: limit !== 1,
    maxSockets: settings.maxConnections,
    scheduling: 'fifo',
  };
  if (settings.idleTimeoutMs > 0) options.timeout = settings.idleTimeoutMs;
  if (settings.keepaliveTimeMs !== null) options.keepAliveMsecs = settings.keepaliveTimeMs;
  const tls = secure && settings.tls !== null ? clientTlsOptions(settings.tls, check) : {};
  const httpsAgent = secure ? new HttpsAgent({ ...options, ...tls }) : null;
  const agent = httpsAgent ?? new HttpAgent(options);
  const expired = watchConnectionAge(agent, settings);
  // Per socket: requests finished, and bytes read when last counted.
  const served = new WeakMap<Socket, { n: number; read: number }>();
  let retired = false;
  agent.prependListener('free', (socket: Socket) => {
    const seen = served.get(socket) ?? { n: 0, read: 0 };
    // The agent also emits `free` for a socket it just opened for a queued request
    // (Agent#removeSocket); nothing was read on it since the last count, so it is
    // not a finished request.
    if (socket.bytesRead > seen.read) {
      seen.n++;
      seen.read = socket.bytesRead;
      served.set(socket, seen);
    }
    if (seen.n > 0 && (retired || (limit > 0 && seen.n >= limit) || expired?.(socket) === true))
      socket.destroy();
  });
  return {
    agent,
    agents: httpsAgent !== null ? { https: httpsAgent } : { http: agent },
    settings,
    check,
    retire: () => {
      retired = true;
      for (const list of Object.values(agent.freeSockets)) {
        for (const s of list ?? []) s.destroy();
      }
    },
    destroy: () => agent.destroy(),
  };
}
