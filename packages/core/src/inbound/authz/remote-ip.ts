import { parseIp, type Ip } from './ip.js';

/**
 * `remote.ip` / `remoteIpBlocks`: the original client address per meshConfig
 * `defaultConfig.gatewayTopology.numTrustedProxies` (Envoy `xff_num_trusted_hops`).
 * Envoy appends the direct peer to `X-Forwarded-For` and trusts the (N+1)th entry
 * from the right, i.e. the Nth entry of the header as received; with N = 0, or a
 * header too short or unparsable there, it is the direct peer. So a forged
 * `X-Forwarded-For` from an untrusted caller changes nothing when N = 0.
 * (envoy docs configuration/http/http_conn_man/headers.rst, x-forwarded-for)
 */
export function remoteIp(
  xff: string | readonly string[] | undefined,
  sourceIp: Ip | null,
  numTrustedProxies: number,
): Ip | null {
  if (numTrustedProxies <= 0 || xff === undefined) return sourceIp;
  const list = (typeof xff === 'string' ? xff : xff.join(',')).split(',');
  const entry = list[list.length - numTrustedProxies];
  if (entry === undefined) return sourceIp;
  return parseIp(entry) ?? sourceIp;
}
