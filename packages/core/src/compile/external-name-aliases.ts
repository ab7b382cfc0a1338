import type { PlatformResource } from '../config/snapshot.js';
import { DOMAIN_SUFFIX } from './hosts.js';

/**
 * Kubernetes ExternalName Services as Istio treats them (kube/conversion.go: resolution
 * Alias; push_context.go `initServiceRegistry`): no service of their own, but an alias of
 * the host they name, followed through other aliases to a concrete host (a loop resolves to
 * nothing, as Kubernetes DNS answers NXDOMAIN). Returns concrete host → alias hosts, sorted
 * by namespace then name, as istiod sorts `Attributes.Aliases`.
 */
export function externalNameAliases(
  platform: readonly PlatformResource[],
  visible: (p: PlatformResource) => boolean,
): Map<string, string[]> {
  const raw = new Map<string, { namespace: string; target: string }>();
  for (const p of platform) {
    if (p.kind !== 'Service' || !visible(p)) continue;
    const spec = p.body['spec'];
    if (typeof spec !== 'object' || spec === null) continue;
    const s = spec as Record<string, unknown>;
    const target = s['externalName'];
    if (s['type'] !== 'ExternalName' || typeof target !== 'string' || target === '') continue;
    const host = `${p.metadata.name}.${p.metadata.namespace}.svc.${DOMAIN_SUFFIX}`;
    raw.set(host, { namespace: p.metadata.namespace, target: target.toLowerCase().replace(/\.$/, '') });
  }
  const out = new Map<string, { namespace: string; host: string }[]>();
  for (const [alias, { namespace, target }] of raw) {
    let concrete: string | null = target;
    const seen = new Set([alias, target]);
    for (let next = raw.get(target); next !== undefined; next = raw.get(next.target)) {
      if (seen.has(next.target)) {
        concrete = null;
        break;
      }
      seen.add(next.target);
      concrete = next.target;
    }
    if (concrete === null) continue;
    const list = out.get(concrete) ?? [];
    list.push({ namespace, host: alias });
    out.set(concrete, list);
  }
  const sorted = new Map<string, string[]>();
  for (const [concrete, list] of out) {
    list.sort((a, b) => byteOrder(a.namespace, b.namespace) || byteOrder(a.host, b.host));
    sorted.set(
      concrete,
      list.map((a) => a.host),
    );
  }
  return sorted;
}

/** Go's strings.Compare (byte order), which istiod sorts aliases by; not the locale's. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
