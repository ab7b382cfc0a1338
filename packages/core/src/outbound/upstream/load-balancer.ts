import type { LoadBalancerPolicy } from '../../compile/traffic-policy.js';
import type { Random } from '../../runtime/random.js';
import { firstAllowed, type HostPicker } from './picker.js';
import { createLeastRequest } from './least-request.js';
import { createMaglev } from './maglev.js';
import { createRandomPicker } from './random-pick.js';
import { createRingHash } from './ring-hash.js';
import { createRoundRobin } from './round-robin.js';

/**
 * `trafficPolicy.loadBalancer` as Istio configures Envoy (pilot
 * networking/core/cluster_traffic_policy.go `applyLoadBalancer`):
 * - `LEAST_REQUEST` (the default) and the deprecated `LEAST_CONN`: Envoy LEAST_REQUEST.
 * - `ROUND_ROBIN`, `RANDOM`: Envoy's of the same name.
 * - `consistentHash`: Envoy RING_HASH (`minimumRingSize` default 1024), or MAGLEV with
 *   `maglev` (`tableSize` default 65537); keys and host positions hashed with xxHash64 as
 *   Envoy does, so a key reaches the same pod from a sidecar and from meshlet.
 * - `PASSTHROUGH`: Envoy ORIGINAL_DST, i.e. the address the caller itself dialled. The
 *   cluster's endpoints stand for that address (pass the caller's resolved addresses to
 *   `ClusterManager.get`), so the first one is used, as a client that resolved DNS would.
 */
export function createPicker(policy: LoadBalancerPolicy, random: Random): HostPicker {
  const ch = policy.consistentHash;
  if (ch !== null) {
    return ch.ring.kind === 'maglev'
      ? createMaglev(ch.ring.tableSize, random)
      : createRingHash(ch.ring.minimumRingSize, random);
  }
  switch (policy.simple) {
    case 'ROUND_ROBIN':
      return createRoundRobin(random);
    case 'RANDOM':
      return createRandomPicker(random);
    case 'PASSTHROUGH':
      return { pick: (hosts, _v, skip) => firstAllowed(hosts, skip) };
    default:
      return createLeastRequest(random);
  }
}

/** A stable description of the parts of the policy a picker depends on. */
export function pickerKey(policy: LoadBalancerPolicy): string {
  const ch = policy.consistentHash;
  if (ch === null) return policy.simple ?? 'LEAST_REQUEST';
  return ch.ring.kind === 'ringHash' ? `ring:${ch.ring.minimumRingSize}` : `maglev:${ch.ring.tableSize}`;
}
