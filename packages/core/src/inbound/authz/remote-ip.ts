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
  if (xff === undefined) return sourceIp;
  if (gateway && numTrustedProxies <= 0) return sourceIp;
  const list = (typeof xff === 'string' ? xff : xff.join(',')).split(',');
  const entry = gateway ? list[list.length - numTrustedProxies] : list[list.length - 1];
  if (entry === undefined) return sourceIp;
  return parseIp(entry.trim()) ?? sourceIp;
}
