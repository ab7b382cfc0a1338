import { isIP } from 'node:net';
import type { Cluster, Endpoint, Service } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import { dnsEndpoint, type DnsAnswer } from './dns-cache.js';
import type { Target } from './request-input.js';
import { hostId, hostPort } from './upstream/host-state.js';

/** The URL's host and port a call asked for (what an app dials); the call's `Target`. */
export type CallHost = Pick<Target, 'hostname' | 'port'>;

/** Envoy's DNS cache `host_ttl` default (dynamic_forward_proxy dns_cache.proto): an unused name is dropped. */
const HOST_TTL_MS = 300_000;

const AUTHORITY = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/;

/** A pin no host matches: the call has no host name to go to (`503 UH`). */
const NO_HOST = '';

function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * The host name and port a call to a wildcard cluster connects to. NONE is ORIGINAL_DST: the
 * address the app dialled, which in process is the URL's host, on the port's `targetPort`
 * when it has one (istio serviceentry conversion.go PassthroughTargetPorts, the cluster's
 * upstream_port_override), else the URL's port. DYNAMIC_DNS is the dynamic forward proxy:
 * the Host header's name and port; without a port, 443 when the cluster originates TLS,
 * else 80 (envoy filters/http/dynamic_forward_proxy/proxy_filter.cc default_port).
 */
function requestHost(
  cluster: Cluster,
  service: Service,
  call: CallHost,
  authority: string,
): { host: string; port: number } | null {
  if (service.resolution === 'NONE') {
    const target = service.ports.find((p) => p.number === cluster.port)?.targetPort ?? null;
    return { host: bare(call.hostname), port: target ?? call.port };
  }
  const m = AUTHORITY.exec(authority);
  const host = m?.[1];
  if (m === null || host === undefined || host === '') return null;
  const tls = cluster.policy.tls;
  const port = m[2] !== undefined ? Number(m[2]) : tls !== null && tls.mode !== 'DISABLE' ? 443 : 80;
  return { host: bare(host), port };
}

/** One wildcard cluster's hosts: the endpoint of every host name called lately. */
interface Hosts {
  readonly byName: Map<string, { endpoint: Endpoint; used: number }>;
  endpoints: readonly Endpoint[];
}

/**
 * Endpoints of a wildcard ServiceEntry host with resolution NONE or DYNAMIC_DNS, whose
 * cluster istiod builds without endpoints (ORIGINAL_DST, or Envoy's dynamic forward proxy:
 * istio pilot/pkg/networking/core/cluster.go convertResolution, buildOutboundClusters). The
 * call's own host name is resolved and the call pinned to its first address: the one an app
 * dials, the one the proxy's DNS cache keeps. The runtime cluster holds every host name
 * called in the last `HOST_TTL_MS`, so the pool and outlier detection are the cluster's, as
 * in Envoy. A name DNS cannot resolve pins the call to no host (`503 UH`).
 */
export function createWildcardEndpoints(
  lookup: (host: string) => Promise<readonly string[]>,
  clock: Clock,
): (cluster: Cluster, service: Service, call: CallHost | null, authority: string) => Promise<DnsAnswer> {
  const clusters = new Map<string, Hosts>();
  const hostsOf = (key: string): Hosts => {
    let hosts = clusters.get(key);
    if (hosts === undefined) {
      hosts = { byName: new Map(), endpoints: Object.freeze([]) };
      clusters.set(key, hosts);
    }
    return hosts;
  };
  // `authority` is the Host header as sent.
  return async (cluster, service, call, authority) => {
    const hosts = hostsOf(cluster.key);
    // DYNAMIC_DNS builds no subset clusters (istio cluster_builder.go applyDestinationRule).
    const wanted = service.resolution === 'DYNAMIC_DNS' && cluster.subset !== null ? null : call;
    const target = wanted === null ? null : requestHost(cluster, service, wanted, authority);
    if (target === null) return { endpoints: hosts.endpoints, pinned: NO_HOST };
    const { host, port } = target;
    const addresses = isIP(host) !== 0 ? [host] : await lookup(host).catch((): readonly string[] => []);
    const first = addresses[0];
    if (first === undefined) return { endpoints: hosts.endpoints, pinned: NO_HOST };
    const name = hostPort(host, port);
    const now = clock.now();
    let entry = hosts.byName.get(name);
    if (entry === undefined || entry.endpoint.address !== first) {
      entry = { endpoint: dnsEndpoint(first, port), used: now };
      hosts.byName.set(name, entry);
      for (const [n, h] of hosts.byName) if (now - h.used >= HOST_TTL_MS) hosts.byName.delete(n);
      hosts.endpoints = Object.freeze([...hosts.byName.values()].map((h) => h.endpoint));
    }
    entry.used = now;
    return { endpoints: hosts.endpoints, pinned: hostId(entry.endpoint) };
  };
}
