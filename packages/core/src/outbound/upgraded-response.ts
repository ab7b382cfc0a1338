import type { MeshResponse } from './response.js';
import type { UpgradedConnection } from './transport.js';

/** The connections of the 101s a gateway's upgrade requests got, by response. */
const UPGRADED = new WeakMap<MeshResponse, UpgradedConnection>();

/** `res`, a 101 to an upgrade request, with the upstream connection it switched. */
export function withUpgrade(res: MeshResponse, upgraded: UpgradedConnection): MeshResponse {
  UPGRADED.set(res, upgraded);
  return res;
}

/** The upstream connection a 101 switched, for the gateway to join to its client's; null for any other response. */
export function upgradedOf(res: MeshResponse): UpgradedConnection | null {
  return UPGRADED.get(res) ?? null;
}
