import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { MeshletError } from '../../errors/meshlet-error.js';
import { MeshServer } from './mesh-server.js';
import type { UpgradeGuard } from './upgrade-guard.js';
import { servedPlain } from './h2c-plain.js';

/** An emitter whose `emit` can be wrapped (an http.Server, https.Server, Fastify's `app.server`). */
interface Emitter {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  listenerCount(event: string | symbol): number;
}

const kGuarded = Symbol.for('meshlet.upgradesGuarded');

/**
 * Puts `guard` in front of the `upgrade` listeners of a server meshlet did not make (Express's
 * own `http.Server`, Fastify's `app.server`): node's parser emits each upgrade request on the
 * server, and the emit is held until the guard allowed it, then goes to every listener as node
 * would have sent it; a refused one never reaches them. An `h2c` one with no body is served
 * as a plain request (h2c-plain.ts). The listeners stay the server's own, so
 * a WebSocket server added later (`new WebSocketServer({ server })`) is guarded too. A server
 * meshlet made guards its upgrades already and is left alone; a second call changes nothing.
 * @throws MeshletError `MESHLET_ERR_MESH_OPTIONS` for something that is not a server.
 */
export function guardServerUpgrades(server: unknown, guard: UpgradeGuard): void {
  if (server instanceof MeshServer) return;
  const s = server as Partial<Emitter> & { [kGuarded]?: true };
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.emit !== 'function' ||
    typeof s.listenerCount !== 'function'
  )
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      'mesh.guardUpgrades: pass the http.Server (or https.Server) the application listens on',
      { option: 'guardUpgrades' },
    );
  if (s[kGuarded] === true) return;
  s[kGuarded] = true;
  const emit = s.emit;
  s.emit = function guardedEmit(this: Emitter, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'upgrade') return emit.call(this, event, ...args);
    const [req, socket, head] = args as [IncomingMessage, Duplex, Buffer];
    if (servedPlain(req, socket, head, (r, res) => emit.call(this, 'request', r, res))) return true;
    guard(req, socket, head, () => emit.call(this, 'upgrade', req, socket, head));
    return true;
  };
}
