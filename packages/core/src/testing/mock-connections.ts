import { isIP, type Socket } from 'node:net';
import { MeshletError } from '../errors/meshlet-error.js';
import type { MeshConnectTarget } from '../outbound/tcp-connect.js';
import { untilUp, type DialTarget, type TcpDial } from '../outbound/tcp-dial.js';
import type { Clock } from '../runtime/clock.js';
import { pickEndpoint, type DirectFetchContext } from './direct-fetch.js';
import type { MockConnection } from './types.js';

export type Connect = (target: MeshConnectTarget) => Promise<Socket>;

/** Which pod each socket of the mock wire reached (`ip:port`, `<namespace>/<workload>`). */
export type DialedPods = WeakMap<Socket, { readonly address: string; readonly workload: string }>;

/** `connect` as a workload of the mock mesh makes it: written to `mm.connections` once it connects or fails. */
export function connectionLogged(
  source: string,
  connect: Connect,
  deps: { readonly clock: Clock; readonly log: MockConnection[]; readonly dialed: DialedPods },
): Connect {
  return async (target) => {
    const start = deps.clock.now();
    const entry = { source, target: `${target.host}:${target.port}`, start };
    try {
      const socket = await connect(target);
      deps.log.push({ ...entry, destination: deps.dialed.get(socket) ?? null, flags: [], error: null });
      return socket;
    } catch (err) {
      const flags = err instanceof MeshletError ? err.details['flags'] : undefined;
      deps.log.push({
        ...entry,
        destination: null,
        flags: Array.isArray(flags) ? flags.map(String) : [],
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  };
}

/**
 * A TCP connection from a pod without a sidecar: plaintext to the address it names, or
 * to one of the Service's endpoints the virtual IP picks (kube-proxy). Fails as Node's
 * socket does (`code` ECONNREFUSED, ENOTFOUND, ...).
 */
export async function directConnect(
  ctx: DirectFetchContext,
  dial: TcpDial,
  target: MeshConnectTarget,
): Promise<Socket> {
  let to: DialTarget = { address: target.host, port: target.port };
  if (isIP(target.host) === 0) {
    const picked = pickEndpoint(ctx, target.host, target.port);
    to = { address: picked.ip, port: picked.port };
  }
  return untilUp(dial(to, null));
}
