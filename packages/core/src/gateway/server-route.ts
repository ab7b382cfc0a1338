import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { GatewayServerInfo, MeshPlan } from '../compile/plan-types.js';
import { matchServerName } from './sni-match.js';

/** A server's host names without their `ns/` part, lower-case: its filter chain's server names. */
export function serverNames(s: GatewayServerInfo): string[] {
  return s.hosts.map((h) => h.slice(h.indexOf('/') + 1).toLowerCase());
}

/**
 * The route configuration a gateway request uses (istiod gives each HTTPS server's filter
 * chain its own RDS, gateway.go `buildGatewayListeners`): on a TLS connection, that of the
 * TLS-terminating server on `port` whose hosts the connection's SNI matches (Envoy's chain
 * match, sni-match.ts), `''` (no route at all) when none does; null on plain HTTP, where
 * every server of the port shares `http.<port>`, and on TLS the port's servers do not
 * terminate (the application's own HTTPS server in front of `mesh.gateway()`).
 */
export function connectionRouteName(plan: MeshPlan, port: number, socket: Socket): string | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true) return null;
  // Worked out once per connection and plan: a kept-alive connection's requests share it.
  const known = perConnection.get(socket);
  if (known !== undefined && known.plan === plan && known.port === port) return known.name;
  const name = routeNameFor(plan, port, tls);
  perConnection.set(socket, { plan, port, name });
  return name;
}

const perConnection = new WeakMap<
  Socket,
  { readonly plan: MeshPlan; readonly port: number; readonly name: string | null }
>();

function routeNameFor(plan: MeshPlan, port: number, tls: Partial<TLSSocket>): string | null {
  return routeNameForSni(plan, port, typeof tls.servername === 'string' ? tls.servername : null);
}

/**
 * The route configuration of a TLS connection to `port` that sent `sni` (null: none): the
 * matching TLS-terminating server's, `''` when no server takes the name (the handshake
 * fails), null when the port's servers terminate no TLS (`http.<port>`).
 */
export function routeNameForSni(plan: MeshPlan, port: number, sni: string | null): string | null {
  const server = tlsServerForSni(plan, port, sni);
  // TLS the application's own server terminated in front of an HTTP Gateway server: http.<port>.
  if (server === undefined) return null;
  return server?.routeName ?? '';
}

/**
 * The TLS-terminating server on `port` whose filter chain a ClientHello with `sni` (null:
 * none) matches (Envoy's chain match on server names, sni-match.ts); null when none does
 * (the handshake fails), undefined when the port's servers terminate no TLS.
 */
export function tlsServerForSni(
  plan: MeshPlan,
  port: number,
  sni: string | null,
): GatewayServerInfo | null | undefined {
  const servers = (plan.gateway?.servers ?? []).filter((s) => s.port === port && s.terminatesTls);
  if (servers.length === 0) return undefined;
  return matchServerName(
    servers.map((s) => ({ names: serverNames(s), value: s })),
    sni === null ? null : sni.toLowerCase(),
  );
}
