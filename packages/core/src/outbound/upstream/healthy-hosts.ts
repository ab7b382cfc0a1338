import type { HostState } from './host-state.js';

/** Envoy's default `overprovisioning_factor` (140%); Istio does not set it. */
const OVERPROVISIONING = 140;

/**
 * The hosts the load balancer may use: the ones not ejected, or all of them when the
 * cluster is in panic (envoy load_balancer_impl.cc `recalculatePerPriorityPanic`,
 * `isHostSetInPanic`). Panic needs both: availability `min(100, 140% × healthy/total)`
 * below 100, and `healthy/total` below the threshold. Istio sets the threshold to
 * `outlierDetection.minHealthPercent` (default 0: never panic, so all ejected means no
 * host and `503 UH`); without outlierDetection Envoy's 50% stays.
 */
export function eligibleHosts(hosts: readonly HostState[], panicThreshold: number): readonly HostState[] {
  const total = hosts.length;
  let healthy = 0;
  for (const h of hosts) if (!h.ejected) healthy++;
  if (healthy === total) return hosts;
  const availability = Math.min(100, Math.floor((OVERPROVISIONING * healthy) / total));
  const panic = availability < 100 && (100 * healthy) / total < Math.min(100, panicThreshold);
  return panic ? hosts : hosts.filter((h) => !h.ejected);
}
