import type { InboundRequest } from '../engine-types.js';

/** Whether a `connection` header value lists the `upgrade` option. */
function listsUpgrade(connection: string | readonly string[] | undefined): boolean {
  if (connection === undefined) return false;
  const values = typeof connection === 'string' ? [connection] : connection;
  return values.some((v) => v.split(',').some((token) => token.trim().toLowerCase() === 'upgrade'));
}

/**
 * Whether a request asks for an upgrade, as Envoy's Utility::isUpgrade reads it:
 * `Connection: upgrade` and an `Upgrade` header. Envoy's HTTP/1 codec never completes such a
 * request, so a local reply to it ends a stream whose request is incomplete, and the
 * connection manager resets it: the connection closes after the reply
 * (conn_manager_impl.cc doEndStream).
 */
export function isUpgradeRequest(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): boolean {
  return headers['upgrade'] !== undefined && listsUpgrade(headers['connection']);
}

/**
 * Why the connection manager refuses `req`'s upgrade, or null when it does not: an upgrade
 * request (`Connection: upgrade` with an `Upgrade` header, Envoy's Utility::isUpgrade) to a
 * protocol other than `websocket`, the only upgrade istiod configures on any connection
 * manager (listener_builder.go `UpgradeConfigs`), fails the filter chain's creation:
 * `403` with no body, `upgrade_failed` (conn_manager_impl.cc createFilterChain). `h2c` never
 * gets there: Envoy's HTTP/1 codec takes it off and serves the request as a plain one.
 */
export function upgradeProblem(req: InboundRequest): string | null {
  const upgrade = req.headers['upgrade'];
  if (upgrade === undefined || !isUpgradeRequest(req.headers)) return null;
  const token = (typeof upgrade === 'string' ? upgrade : upgrade.join(',')).trim().toLowerCase();
  if (token === 'websocket' || token === 'h2c') return null;
  return `an upgrade to ${JSON.stringify(token)}; the connection manager allows websocket only`;
}
