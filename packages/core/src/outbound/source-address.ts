import { networkInterfaces } from 'node:os';
import type { WorkloadIdentity } from '../compile/workload.js';
import { ipText } from './ip-text.js';

/** A network interface as `os.networkInterfaces()` lists it. */
export interface InterfaceAddress {
  readonly address: string;
  readonly family: string | number;
  readonly internal: boolean;
}

export type InterfaceTable = () => Readonly<Record<string, readonly InterfaceAddress[] | undefined>>;

let hostIp: string | null | undefined;

/**
 * The address `useSourceIp` hashes for this workload: Envoy hashes the downstream
 * connection's IP (hash_policy.cc IpHashMethod), for a sidecar's outbound the pod IP. That
 * is `workload.ip` (createMesh option, else `INSTANCE_IP`), else the first non-internal IPv4
 * of the network interfaces (read once), else — no address known — the workload name, so
 * every call of this workload still hashes alike, though not to the pod Envoy would pick.
 */
export function sourceAddress(workload: WorkloadIdentity, interfaces?: InterfaceTable): string {
  if (workload.ip !== undefined) return ipText(workload.ip) ?? workload.ip;
  let ip: string | null;
  if (interfaces !== undefined) ip = firstIpv4(interfaces());
  else {
    if (hostIp === undefined) hostIp = firstIpv4(networkInterfaces());
    ip = hostIp;
  }
  return ip ?? workload.name;
}

function firstIpv4(table: ReturnType<InterfaceTable>): string | null {
  for (const name of Object.keys(table)) {
    for (const a of table[name] ?? []) {
      if (!a.internal && (a.family === 'IPv4' || a.family === 4)) return a.address;
    }
  }
  return null;
}
