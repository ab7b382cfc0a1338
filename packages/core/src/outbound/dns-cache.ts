import type { Endpoint } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';

/** Resolves a host name to addresses. */
export type ResolveDns = (host: string) => Promise<string[]>;

/** Istio's default `dnsRefreshRate` (MeshConfig): resolved addresses are reused this long. */
export const DNS_TTL_MS = 60_000;

/**
 * Looks host names up through `resolve`, keeping each answer (deduplicated, frozen, the
 * same array until it is looked up again) for `DNS_TTL_MS`. Lookups in flight are shared;
 * failures are not cached.
 */
export function createDnsCache(
  resolve: ResolveDns,
  clock: Clock,
): (host: string) => Promise<readonly string[]> {
  const cache = new Map<string, { at: number; addresses: readonly string[] }>();
  const inflight = new Map<string, Promise<readonly string[]>>();
  return (host) => {
    const hit = cache.get(host);
    if (hit !== undefined && clock.now() - hit.at < DNS_TTL_MS) return Promise.resolve(hit.addresses);
    let p = inflight.get(host);
    if (p === undefined) {
      p = resolve(host)
        .then((found) => {
          const addresses = Object.freeze([...new Set(found)]);
          cache.set(host, { at: clock.now(), addresses });
          return addresses;
        })
        .finally(() => inflight.delete(host));
      inflight.set(host, p);
    }
    return p;
  };
}

/** The endpoints a call reaches by DNS, and the host it must use. */
export interface DnsAnswer {
  /** Every endpoint the runtime cluster holds. */
  readonly endpoints: readonly Endpoint[];
  /**
   * The id (`address:port`) of the one host the call goes to when the cluster picks it from
   * the request (pinned-host.ts); null when the load balancer picks among `endpoints`.
   */
  readonly pinned: string | null;
}

/** An endpoint DNS found: an address and a port, without labels or identity. */
export function dnsEndpoint(address: string, port: number): Endpoint {
  return Object.freeze({
    address,
    port,
    labels: Object.freeze({}),
    serviceAccount: null,
    weight: 1,
    locality: null,
    network: null,
  });
}
