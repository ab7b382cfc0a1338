import { parseIp, type Ip } from './ip.js';

/**
 * `remote.ip` / `remoteIpBlocks`: the client address Envoy's connection manager finds
 * (envoy source/common/http/conn_manager_utility.cc mutateRequestHeaders; docs
 * configuration/http/http_conn_man/headers.rst, x-forwarded-for).
 * - A gateway (`use_remote_address: true`, `xff_num_trusted_hops` = meshConfig
 *   `gatewayTopology.numTrustedProxies` = N): Envoy appends the direct peer to
 *   `X-Forwarded-For` and trusts the (N+1)th entry from the right, i.e. the Nth entry of
 *   the header as received; with N = 0, or a header too short or unparsable there, the
 *   direct peer. A forged header from an untrusted caller changes nothing when N = 0.
 * - A sidecar (istiod sets `use_remote_address: false` and no trusted hops on inbound
 *   listeners, listener_inbound.go): the rightmost `X-Forwarded-For` entry when it is an
 *   IP address, else the direct peer. Whoever calls the workload directly can set it, as
 *   with Istio's sidecar: `ipBlocks` (the peer) is what a caller cannot forge.
 */
export function remoteIp(
  xff: string | readonly string[] | undefined,
  sourceIp: Ip | null,
  numTrustedProxies: number,
  gateway = true,
): Ip | null {
  const entry = forwardedClient(xff, numTrustedProxies, gateway);
  return entry === null ? sourceIp : (parseIp(entry) ?? sourceIp);
}

/**
 * The `X-Forwarded-For` entry `remoteIp` takes as the client, as written, or null when the
 * direct peer is the client (no header, too short, not an address, or a gateway trusting
 * no hops). Envoy also logs it as `%DOWNSTREAM_REMOTE_ADDRESS%`, with port 0.
 */
export function forwardedClient(
  xff: string | readonly string[] | undefined,
  numTrustedProxies: number,
  gateway: boolean,
): string | null {
  if (xff === undefined) return null;
  if (gateway && numTrustedProxies <= 0) return null;
  const list = (typeof xff === 'string' ? xff : xff.join(',')).split(',');
  const entry = (gateway ? list[list.length - numTrustedProxies] : list[list.length - 1])?.trim();
  return entry === undefined || parseIp(entry) === null ? null : entry;
}
