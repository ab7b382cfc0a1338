import type { HashKey } from './hash.js';
import type { HostState } from './host-state.js';

/** Hosts a retry must avoid (previous-hosts); null when nothing is excluded. */
export type SkipHost = ((host: HostState) => boolean) | null;

/**
 * One load-balancing algorithm over a cluster's eligible hosts. `hosts` is never empty and
 * keeps its identity until `version` changes, so pickers rebuild schedules and rings only
 * when the host set does. At least one host passes `skip`.
 */
export interface HostPicker {
  /**
   * `weights`, when given, are the hosts' normalized weights (same index, not re-normalized),
   * for a consistent-hash ring or table that folds in locality weights; other pickers ignore it.
   */
  pick(
    hosts: readonly HostState[],
    version: number,
    skip: SkipHost,
    hashKey: HashKey,
    weights?: readonly number[] | null,
  ): HostState;
}

/** True when every host has the same weight: Envoy then skips EDF for the cheap unweighted pick. */
export function weightsEqual(hosts: readonly HostState[]): boolean {
  const w = hosts[0]?.weight;
  for (const h of hosts) if (h.weight !== w) return false;
  return true;
}

/** The first host `skip` lets through (callers guarantee there is one). */
export function firstAllowed(hosts: readonly HostState[], skip: SkipHost): HostState {
  for (const h of hosts) if (skip === null || !skip(h)) return h;
  return hosts[0]!;
}
