import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Cluster, Endpoint, Service } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import { labelsMatch } from '../compile/workload.js';

/** Resolves a host name to addresses. */
export type ResolveDns = (host: string) => Promise<string[]>;

/** The system resolver (getaddrinfo, as an app would resolve). */
export const systemResolveDns: ResolveDns = async (host) =>
  (await lookup(host, { all: true })).map((a) => a.address);

/** Istio's default `dnsRefreshRate` (MeshConfig): resolved addresses are reused this long. */
const DNS_TTL_MS = 60_000;

/** A plain DNS name: not an IP literal, not a wildcard. */
function isDnsName(host: string): boolean {
  return host !== '' && !host.startsWith('*') && isIP(host) === 0 && /[a-z]/i.test(host);
}

/**
 * Endpoints for clusters whose plan has none: a host with no known endpoints and a
 * plain DNS name is resolved by DNS, each address an endpoint without labels (issue #3
 * "Endpoints"). Results are cached per host and port so the runtime cluster keeps its
 * state; lookups in flight are shared; failures are not cached.
 */
export function createDnsEndpoints(
  resolve: ResolveDns,
  clock: Clock,
): (cluster: Cluster, service: Service | undefined) => Promise<readonly Endpoint[]> | null {
  const cache = new Map<string, { at: number; endpoints: readonly Endpoint[] }>();
  const inflight = new Map<string, Promise<readonly Endpoint[]>>();
  return (cluster, service) => {
    if (cluster.endpoints.length > 0 || cluster.status !== 'ok' || !isDnsName(cluster.host)) return null;
    // Only a service with no endpoints at all: a subset that selects none stays empty (`503 UH`).
    if (service !== undefined && (service.endpoints[String(cluster.port)]?.length ?? 0) > 0) return null;
    const port = service?.ports.find((p) => p.number === cluster.port)?.targetPort ?? cluster.port;
    const key = `${cluster.host}|${port}`;
    const hit = cache.get(key);
    const now = clock.now();
    if (hit !== undefined && now - hit.at < DNS_TTL_MS)
      return Promise.resolve(select(hit.endpoints, cluster));
    let p = inflight.get(key);
    if (p === undefined) {
      p = resolve(cluster.host)
        .then(
          (addresses) => {
            const endpoints = Object.freeze(
              [...new Set(addresses)].map((address): Endpoint =>
                Object.freeze({
                  address,
                  port,
                  labels: Object.freeze({}),
                  serviceAccount: null,
                  weight: 1,
                  locality: null,
                  network: null,
                }),
              ),
            );
            cache.set(key, { at: clock.now(), endpoints });
            return endpoints;
          },
          (): readonly Endpoint[] => [],
        )
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p.then((eps) => select(eps, cluster));
  };
}

function select(endpoints: readonly Endpoint[], cluster: Cluster): readonly Endpoint[] {
  if (Object.keys(cluster.subsetLabels).length === 0) return endpoints;
  return endpoints.filter((e) => labelsMatch(cluster.subsetLabels, e.labels));
}
