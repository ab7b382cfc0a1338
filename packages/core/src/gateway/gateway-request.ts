import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { EDGE_ONLY_HEADERS } from '../outbound/control-headers.js';
import { HOP_BY_HOP_HEADERS } from '../outbound/hop-by-hop.js';
import type { HeaderRecord } from '../outbound/request-input.js';
import { forwardedClient } from '../inbound/authz/remote-ip.js';
import { requestUuid } from '../telemetry/tracing/request-uuid.js';

/**
 * What the gateway does not forward: the hop-by-hop headers, `te`, which Envoy drops too,
 * and what Envoy's connection manager takes off an edge request besides the control headers
 * the outbound pipeline strips (conn_manager_utility.cc cleanInternalHeaders; the inbound
 * engine has taken them off an allowed request already).
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, 'te', ...EDGE_ONLY_HEADERS]);

/** Whether the gateway's client reached it over TLS. */
export function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}

/**
 * The request a gateway sends on, as Envoy's edge connection manager prepares it
 * (`use_remote_address: true`, which istiod sets on every gateway listener; gateway.go,
 * conn_manager_utility.cc mutateRequestHeaders): hop-by-hop headers dropped and the
 * client's address appended to `x-forwarded-for`. (`x-forwarded-proto` is on the request
 * already: the inbound engine sets it before the gateway's filters, forwarded-proto.ts.)
 *
 * Every request is an edge request: since Envoy 1.33 no address is internal unless
 * istiod writes `internal_address_config` (only with ENABLE_HCM_INTERNAL_NETWORKS and
 * meshNetworks, gateway.go). So the client's address, found through the trusted hops as
 * for `remoteIpBlocks`, goes up as `x-envoy-external-address`, and `x-request-id` is a
 * fresh one over the client's (`preserve_external_request_id` is false) unless
 * `proxyHeaders.requestId` is disabled.
 */
export function gatewayRequestHeaders(
  req: IncomingMessage,
  trustedProxies: number,
  generateRequestId: boolean,
): HeaderRecord {
  const out: HeaderRecord = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  const remote = req.socket.remoteAddress;
  const ip = remote === undefined || remote === '' ? null : remote.replace(/^::ffff:/, '');
  const received = out['x-forwarded-for'];
  const external = forwardedClient(received, trustedProxies, true) ?? ip;
  if (ip !== null) {
    const prior = received === undefined ? '' : typeof received === 'string' ? received : received.join(',');
    out['x-forwarded-for'] = prior === '' ? ip : `${prior},${ip}`;
  }
  if (external === null) delete out['x-envoy-external-address'];
  else out['x-envoy-external-address'] = external;
  if (generateRequestId) out['x-request-id'] = requestUuid();
  return out;
}
