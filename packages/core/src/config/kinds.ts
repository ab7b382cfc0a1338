import type { KindDefinition } from './kind-definition.js';
import { NETWORKING_KINDS } from './kinds-networking.js';
import { SECURITY_KINDS } from './kinds-security.js';

/** Every Istio kind meshlet knows, keyed by `group/Kind`. */
const REGISTRY: ReadonlyMap<string, KindDefinition> = new Map(
  [...NETWORKING_KINDS, ...SECURITY_KINDS].map((d) => [`${d.group}/${d.kind}`, d]),
);

export function findKind(group: string, kind: string): KindDefinition | undefined {
  return REGISTRY.get(`${group}/${kind}`);
}

export function allKinds(): readonly KindDefinition[] {
  return [...REGISTRY.values()];
}

/** True for API groups that belong to Istio (`*.istio.io`). */
export function isIstioGroup(group: string): boolean {
  return group === 'istio.io' || group.endsWith('.istio.io');
}
