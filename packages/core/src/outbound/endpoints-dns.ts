import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Cluster, Endpoint, Service } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import { labelsMatch } from '../compile/workload.js';
import { createDnsCache, dnsEndpoint, type DnsAnswer, type ResolveDns } from './dns-cache.js';
import { createWildcardEndpoints, type CallHost } from './wildcard-endpoints.js';

export type { CallHost, DnsAnswer, ResolveDns };

/** The system resolver (getaddrinfo, as an app would resolve). */
export const systemResolveDns: ResolveDns = async (host) =>
  (await lookup(host, { all: true })).map((a) => a.address);

/** A plain DNS name: not an IP literal, not a wildcard. */
function isDnsName(host: string): boolean {
  return host !== '' && !host.startsWith('*') && isIP(host) === 0 && /[a-z]/i.test(host);
}

/** The endpoints DNS gives one call of `cluster`, or null when the plan's endpoints stand. */
export type DnsEndpoints = (
  cluster: Cluster,
  service: Service | undefined,
  call: CallHost | null,
  /** The Host header as sent (a DYNAMIC_DNS wildcard resolves it). */
  authority: string,
) => Promise<DnsAnswer> | null;

const NO_ADDRESSES: readonly string[] = Object.freeze([]);

/**
 * Endpoints that come from DNS at call time (issue #3 "Endpoints"):
 * - a host with no known endpoints and a plain DNS name: each address an endpoint without
 *   labels; a subset that selects none of the service's endpoints stays empty (`503 UH`);
 * - DNS_ROUND_ROBIN: Envoy's LOGICAL_DNS (istio pilot/pkg/networking/core/cluster.go
 *   convertResolution) connects to the first address of each endpoint's host name;
 * - a wildcard host with NONE or DYNAMIC_DNS: the request's own host name
 *   (wildcard-endpoints.ts).
 * Answers are reused for dnsRefreshRate (dns-cache.ts); the same answers give the same
 * endpoints, so the runtime cluster keeps its state. A failed lookup gives no endpoint.
 */
export function createDnsEndpoints(resolve: ResolveDns, clock: Clock): DnsEndpoints {
  const lookupHost = createDnsCache(resolve, clock);
  const wildcard = createWildcardEndpoints(lookupHost, clock);
  const built = new Map<
    string,
    { base: unknown; from: readonly unknown[]; endpoints: readonly Endpoint[] }
  >();
  const remember = (
    key: string,
    base: unknown,
    from: readonly unknown[],
    build: () => Endpoint[],
  ): readonly Endpoint[] => {
    const hit = built.get(key);
    if (
      hit !== undefined &&
      hit.base === base &&
      hit.from.length === from.length &&
      hit.from.every((x, i) => x === from[i])
    )
      return hit.endpoints;
    const endpoints = Object.freeze(build());
    built.set(key, { base, from, endpoints });
    return endpoints;
  };
  const addressesOf = (host: string): Promise<readonly string[]> =>
    lookupHost(host).catch(() => NO_ADDRESSES);

  /**
   * The cluster's endpoints with each one named by host replaced by `expand` of the addresses
   * its name resolves to (an address endpoint stays as it is).
   */
  const resolveNamed = (
    cluster: Cluster,
    key: string,
    expand: (e: Endpoint, addresses: readonly string[]) => Endpoint[],
  ): Promise<DnsAnswer> => {
    const named = cluster.endpoints;
    const lookups = named.map((e) =>
      isDnsName(e.address) ? addressesOf(e.address) : Promise.resolve<readonly string[] | null>(null),
    );
    return Promise.all(lookups).then((found) => ({
      endpoints: remember(key, named, found, () =>
        named.flatMap((e, i) => {
          const addresses = found[i];
          return addresses === null || addresses === undefined ? [e] : expand(e, addresses);
        }),
      ),
      pinned: null,
    }));
  };
  /** LOGICAL_DNS (`DNS_ROUND_ROBIN`): the first address an endpoint's name resolves to. */
  const logicalDns = (cluster: Cluster): Promise<DnsAnswer> =>
    resolveNamed(cluster, cluster.key, (e, addresses) =>
      addresses[0] === undefined ? [] : [{ ...e, address: addresses[0] }],
    );
  /**
   * STRICT_DNS (`resolution: DNS`) with endpoints named by host: every address an endpoint's
   * name resolves to is a host of its own, with the endpoint's labels, locality and weight
   * (envoy strict_dns_cluster.cc ResolveTarget).
   */
  const strictDns = (cluster: Cluster): Promise<DnsAnswer> =>
    resolveNamed(cluster, `strict|${cluster.key}`, (e, addresses) =>
      addresses.map((address) => ({ ...e, address })),
    );

  return (cluster, service, call, authority) => {
    if (cluster.status !== 'ok') return null;
    const resolution = service?.resolution;
    if (cluster.host.startsWith('*')) {
      if (service === undefined || cluster.endpoints.length > 0) return null;
      return resolution === 'NONE' || resolution === 'DYNAMIC_DNS'
        ? wildcard(cluster, service, call, authority)
        : null;
    }
    if (resolution === 'DNS_ROUND_ROBIN')
      return cluster.endpoints.some((e) => isDnsName(e.address)) ? logicalDns(cluster) : null;
    if (resolution === 'DNS' && cluster.endpoints.some((e) => isDnsName(e.address)))
      return strictDns(cluster);
    if (cluster.endpoints.length > 0 || !isDnsName(cluster.host)) return null;
    // An entry that selects workloads has only them: none selected is `503 UH`, not DNS.
    if (service?.selectsWorkloads === true) return null;
    // Only a service with no endpoints at all: a subset that selects none stays empty (`503 UH`).
    if (service !== undefined && (service.endpoints[String(cluster.port)]?.length ?? 0) > 0) return null;
    const port = service?.ports.find((p) => p.number === cluster.port)?.targetPort ?? cluster.port;
    return addressesOf(cluster.host).then((found) => ({
      endpoints: select(
        remember(`${cluster.host}|${port}`, null, [found], () => found.map((a) => dnsEndpoint(a, port))),
        cluster,
      ),
      pinned: null,
    }));
  };
}

function select(endpoints: readonly Endpoint[], cluster: Cluster): readonly Endpoint[] {
  if (Object.keys(cluster.subsetLabels).length === 0) return endpoints;
  return endpoints.filter((e) => labelsMatch(cluster.subsetLabels, e.labels));
}
