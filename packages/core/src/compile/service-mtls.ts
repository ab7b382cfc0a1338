import type { Resource } from '../config/resource.js';
import { compareByAge } from './hosts.js';
import type { MtlsMode } from './inbound-types.js';
import { hasSelector } from './policy-selection.js';
import type { PeerAuthenticationIn } from './spec-types.js';

/**
 * The mesh- and namespace-level PeerAuthentication modes a client reads to decide auto
 * mTLS (istio pilot/pkg/model/authentication.go initPeerAuthentications,
 * GetNamespaceMutualTLSMode): per namespace the oldest selector-less policy, its UNSET
 * inheriting the mesh policy (else PERMISSIVE); the mesh policy is the oldest
 * selector-less one in the root namespace, UNSET meaning PERMISSIVE. Workload-level
 * policies are not read: a client cannot know which pod it will reach.
 */
export interface ServiceMtlsModes {
  /** The mesh-level mode; null when the root namespace has no selector-less policy. */
  readonly mesh: MtlsMode | null;
  readonly namespaces: Readonly<Record<string, MtlsMode>>;
}

function modeOf(r: Resource): MtlsMode | null {
  const m = (r.spec as PeerAuthenticationIn).mtls?.mode;
  return m === 'STRICT' || m === 'PERMISSIVE' || m === 'DISABLE' ? m : null;
}

export function serviceMtlsModes(resources: readonly Resource[], rootNamespace: string): ServiceMtlsModes {
  const seen = new Set<string>();
  let mesh: MtlsMode | null = null;
  const found: [string, MtlsMode | null][] = [];
  for (const r of resources.filter((x) => x.kind === 'PeerAuthentication').sort(compareByAge)) {
    if (hasSelector((r.spec as PeerAuthenticationIn).selector)) continue;
    const ns = r.metadata.namespace;
    if (seen.has(ns)) continue;
    seen.add(ns);
    if (ns === rootNamespace) mesh = modeOf(r) ?? 'PERMISSIVE';
    else found.push([ns, modeOf(r)]);
  }
  const namespaces: Record<string, MtlsMode> = {};
  for (const [ns, mode] of found) namespaces[ns] = mode ?? mesh ?? 'PERMISSIVE';
  return { mesh, namespaces };
}

/** GetNamespaceMutualTLSMode: the namespace's mode, else the mesh's, else null (unknown). */
export function namespaceMtlsMode(modes: ServiceMtlsModes, namespace: string): MtlsMode | null {
  return modes.namespaces[namespace] ?? modes.mesh;
}
