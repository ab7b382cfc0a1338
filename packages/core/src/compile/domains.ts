import type { VirtualHost } from './plan-types.js';

/**
 * The host names a request can use for `hostName` (istio httproute.go
 * `GenerateAltVirtualHosts`): the FQDN, and for a Kubernetes-style name
 * `<svc>.<ns>.svc.cluster.local` the short forms — `<svc>` only from the same
 * namespace, `<svc>.<ns>` and `<svc>.<ns>.svc` from anywhere — plus VIPs.
 */
export function hostAliases(
  hostName: string,
  callerNamespace: string,
  addresses: readonly string[],
): string[] {
  const out = [hostName];
  const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(hostName);
  if (m !== null) {
    const [, svc, ns] = m as unknown as [string, string, string];
    if (ns === callerNamespace) out.push(svc);
    out.push(`${svc}.${ns}`, `${svc}.${ns}.svc`);
  }
  for (const a of addresses) if (!out.includes(a)) out.push(a);
  return out;
}

/** Splits `host[:port]` (IPv6 in brackets) into a lower-case host and a port. */
export function splitAuthority(authority: string): { host: string; port: number | null } {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    const port = a.slice(end + 2);
    return { host: a.slice(1, end), port: /^\d+$/.test(port) ? Number(port) : null };
  }
  const colon = a.lastIndexOf(':');
  if (colon > 0 && a.indexOf(':') === colon) {
    const port = a.slice(colon + 1);
    if (/^\d+$/.test(port)) return { host: a.slice(0, colon), port: Number(port) };
  }
  return { host: a.endsWith('.') ? a.slice(0, -1) : a, port: null };
}

/**
 * Authority → virtual host, as Envoy's domain matching: exact domains, then the
 * longest wildcard suffix, then `*`. Only map lookups: the cost grows with the
 * length of the name, never with the number of hosts.
 */
export function createHostIndex(
  vhosts: readonly VirtualHost[],
): (authority: string, port?: number) => VirtualHost | null {
  const exact = new Map<string, VirtualHost>();
  const wildcard = new Map<string, VirtualHost>();
  for (const vh of vhosts) {
    for (const d of vh.domains) {
      const { host: h } = splitAuthority(d);
      if (h.startsWith('*')) {
        const key = `${h.slice(1)}|${vh.port}`;
        if (!wildcard.has(key)) wildcard.set(key, vh);
      } else {
        const key = `${h}|${vh.port}`;
        if (!exact.has(key)) exact.set(key, vh);
      }
    }
  }
  return (authority, port) => {
    const parsed = splitAuthority(authority);
    const p = parsed.port ?? port ?? 80;
    const hit = exact.get(`${parsed.host}|${p}`);
    if (hit !== undefined) return hit;
    if (wildcard.size === 0) return null;
    const h = parsed.host;
    for (let i = 1; i < h.length; i++) {
      const w = wildcard.get(`${h.slice(i)}|${p}`);
      if (w !== undefined) return w;
    }
    return wildcard.get(`|${p}`) ?? null;
  };
}
