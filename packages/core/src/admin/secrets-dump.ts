import type { CertSource } from '../identity/types.js';

/**
 * One SDS resource as Envoy's config dump lists it (`dynamic_active_secrets` /
 * `dynamic_warming_secrets`): its name, whether it has been supplied, and the PEM of its
 * certificate chain or CA (never a key; Envoy redacts those too).
 */
export interface SecretDump {
  readonly name: string;
  /** ACTIVE once supplied; WARMING while a cluster waits for it (not mounted, not loadable). */
  readonly state: 'ACTIVE' | 'WARMING';
  readonly certificate: string | null;
}

/** Istio's names for the workload's own: `default` (its chain) and `ROOTCA` (the mesh root). */
export function workloadSecrets(certs: CertSource | null): SecretDump[] {
  if (certs === null) return [];
  const c = certs.current();
  return [
    { name: 'default', state: 'ACTIVE', certificate: c.certChainPem },
    { name: 'ROOTCA', state: 'ACTIVE', certificate: c.rootCertPem },
  ];
}

/** Each name once (the first), as Envoy holds one resource per name however many use it. */
export function uniqueSecrets(all: readonly SecretDump[]): SecretDump[] {
  const seen = new Set<string>();
  const out: SecretDump[] = [];
  for (const s of all) {
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    out.push(s);
  }
  return out;
}
