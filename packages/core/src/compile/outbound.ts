import type { Resource } from '../config/resource.js';
import type { MeshLocalityInputs } from './locality-lb.js';
import type {
  TcpRoute,
  Cluster,
  CompiledRoute,
  GatewayServerInfo,
  OutboundPlan,
  RouteRequest,
  Service,
  VirtualHost,
  GatewayTcpRoute,
  GatewayTlsPort,
} from './plan-types.js';
import type { WorkloadIdentity } from './workload.js';
import type { EffectiveDestinationRule } from './destination-rules.js';
import type { RouteContext } from './compile-route.js';
import { hostMatches, isWildcard } from './hosts.js';
import { isHttpPort } from './registry.js';
import { buildCluster, clusterKey } from './clusters.js';
import { createHostIndex, hostAliases } from './domains.js';
import { defaultRetryPolicy, forConsistentHash } from './retry.js';
import { compileRules, expandRules, type Expanded } from './vs-rules.js';
import { buildGatewayVirtualHosts } from './gateway-routes.js';
import { buildGatewayTcpRoutes, buildGatewayTlsRoutes } from './gateway-tcp-routes.js';
import { isTcpRoutePort, sidecarTcpRoute } from './sidecar-tcp-routes.js';
import { isTlsRoutePort, sidecarTlsChains, SidecarTlsListeners } from './sidecar-tls-routes.js';
import type { SidecarScope } from './sidecar-scope.js';
import {
  findConflicts,
  indexVirtualServices,
  selectVirtualServices,
  type SelectedVirtualService,
} from './vs-selection.js';

/** Sidecars only see VirtualServices bound to the `mesh` gateway. */
const MESH_GATEWAYS: ReadonlySet<string> = new Set(['mesh']);

/** Istio serves VirtualService hosts that match no service on port 80 only (route.go, "gross HACK"). */
const NON_SERVICE_PORT = 80;

/**
 * Istio decides the previous-hosts retry predicate when it builds the route (route.go
 * applyHTTPRouteDestination): `consistentHash` is true only for a rule with exactly one
 * `route` entry whose destination's traffic policy hashes; several entries (weight 0
 * included) keep the predicate whatever the load balancer.
 */
function withHashRetries(r: CompiledRoute, clusters: Readonly<Record<string, Cluster>>): CompiledRoute {
  const a = r.action;
  if (r.retries === null || a.kind !== 'route' || a.weighted || a.destinations.length !== 1) return r;
  const dest = a.destinations[0]!;
  if (clusters[dest.cluster]?.policy.loadBalancer.consistentHash == null) return r;
  const retries = forConsistentHash(r.retries);
  return retries === r.retries ? r : { ...r, retries };
}

function defaultRoute(hostName: string, port: number): CompiledRoute {
  const cluster = clusterKey(hostName, port, null);
  return {
    id: 'default',
    name: 'default',
    virtualService: null,
    delegate: null,
    matches: [],
    test: () => true,
    action: {
      kind: 'route',
      destinations: [{ host: hostName, subset: null, port, weight: 100, cluster, headers: null }],
      weighted: false,
    },
    rewrite: null,
    headers: null,
    timeoutMs: null,
    retries: defaultRetryPolicy(),
    fault: null,
    mirrors: [],
    cors: null,
  };
}

/**
 * The outbound half of the plan: one virtual host per (service, HTTP port)
 * owned by the winning VirtualService (exact host, else the most specific
 * wildcard; first in conflict order) or Istio's default route, plus port-80
 * virtual hosts for VirtualService hosts that match no service, and every
 * cluster a route or a service needs.
 */
export function buildOutbound(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  registry: Map<string, Service>,
  destinationRule: (hostName: string, serviceNamespace: string) => EffectiveDestinationRule | null,
  meshLocality: MeshLocalityInputs,
  /** The servers of the Gateways that select a gateway workload; null beside a sidecar. */
  gatewayServers: readonly GatewayServerInfo[] | null = null,
  /** The workload's Sidecar scope (sidecar-scope.ts): what it imports; null: everything. */
  scope: SidecarScope | null = null,
): Omit<OutboundPlan, 'serviceMtls'> & {
  readonly gatewayHosts: readonly VirtualHost[] | null;
  readonly gatewayTcp: readonly GatewayTcpRoute[];
  readonly gatewayTls: readonly GatewayTlsPort[];
} {
  const visible = selectVirtualServices(resources, workload.namespace);
  const byName = indexVirtualServices(resources);
  const selected = scope === null ? visible : scope.virtualServices(visible);
  if (scope !== null) registry = scope.services(registry, selected, byName);
  const expanded = new Map<SelectedVirtualService, Expanded[]>();
  const rulesOf = (vs: SelectedVirtualService): Expanded[] => {
    let e = expanded.get(vs);
    if (e === undefined) {
      e = expandRules(vs, byName);
      expanded.set(vs, e);
    }
    return e;
  };
  const wanted = new Map<string, { host: string; port: number; subset: string | null }>();
  const contexts = new Map<string, RouteContext>();
  const ctxFor = (namespace: string, port: number, gateways = MESH_GATEWAYS): RouteContext => {
    const key =
      gateways === MESH_GATEWAYS ? `${namespace}|${port}` : `${namespace}|${port}|${[...gateways].join(',')}`;
    let c = contexts.get(key);
    if (c === undefined) {
      c = {
        namespace,
        port,
        workload,
        gateways,
        service: (h) => registry.get(h),
        useCluster: (host, p, subset) => {
          const k = clusterKey(host, p, subset);
          if (!wanted.has(k)) wanted.set(k, { host, port: p, subset });
        },
      };
      contexts.set(key, c);
    }
    return c;
  };

  // Candidate owners per service host: exact claims in order, then wildcard claims, most specific first.
  const exactClaims = new Map<string, SelectedVirtualService[]>();
  const wildcardClaims: { pattern: string; vs: SelectedVirtualService; order: number }[] = [];
  selected.forEach((vs, order) => {
    for (const h of new Set(vs.hosts)) {
      if (isWildcard(h)) wildcardClaims.push({ pattern: h, vs, order });
      else {
        const list = exactClaims.get(h);
        if (list === undefined) exactClaims.set(h, [vs]);
        else list.push(vs);
      }
    }
  });
  wildcardClaims.sort((a, b) => b.pattern.length - a.pattern.length || a.order - b.order);

  const vhosts: VirtualHost[] = [];
  const tcpRoutes: TcpRoute[] = [];
  const tcpIndex = new Map<string, TcpRoute>();
  const tlsListeners = new SidecarTlsListeners();
  const claimedByService = new Set<string>();
  for (const svc of registry.values()) {
    const candidates = [...(exactClaims.get(svc.host) ?? [])];
    for (const w of wildcardClaims) {
      if (hostMatches(w.pattern, svc.host) && !candidates.includes(w.vs)) {
        candidates.push(w.vs);
        claimedByService.add(w.pattern);
      }
    }
    // The service's names, and those of the ExternalName Services that alias it (httproute.go
    // generateVirtualHostDomains).
    const aliases = [
      ...hostAliases(svc.host, workload.namespace, svc.addresses),
      ...(svc.aliases ?? []).flatMap((a) => hostAliases(a, workload.namespace, [])),
    ];
    for (const port of svc.ports) {
      // Under a Sidecar, each port routes by its own egress listener's VirtualServices.
      const onPort =
        scope === null ? candidates : candidates.filter((vs) => scope.importsVsOn(vs, port.number));
      if (isTcpRoutePort(port)) {
        const r = sidecarTcpRoute(svc, port, onPort, workload, (ns, p) => ctxFor(ns, p));
        tcpRoutes.push(r);
        for (const a of aliases)
          if (!tcpIndex.has(`${a}:${port.number}`)) tcpIndex.set(`${a}:${port.number}`, r);
      }
      if (isTlsRoutePort(port))
        tlsListeners.add(
          svc,
          port.number,
          aliases,
          sidecarTlsChains(svc, port, onPort, workload, (ns, p) => ctxFor(ns, p)),
        );
      if (!isHttpPort(port)) continue;
      let owner: SelectedVirtualService | null = null;
      let routes: CompiledRoute[] = [];
      for (const vs of onPort) {
        routes = compileRules(vs, rulesOf(vs), (ns) => ctxFor(ns, port.number)).map((r) => r.route);
        if (routes.length > 0) {
          owner = vs;
          break;
        }
      }
      if (owner === null) {
        routes = [defaultRoute(svc.host, port.number)];
        ctxFor(svc.namespace, port.number).useCluster(svc.host, port.number, null);
      }
      vhosts.push({
        name: `${svc.host}:${port.number}`,
        host: svc.host,
        port: port.number,
        domains: aliases.flatMap((a) => [a, `${a}:${port.number}`]),
        virtualService:
          owner === null
            ? null
            : { namespace: owner.resource.metadata.namespace, name: owner.resource.metadata.name },
        routes,
      });
    }
  }

  // VirtualService hosts that are not services: served on port 80 only, first claim wins.
  const seenPatterns = new Set<string>();
  for (const vs of selected) {
    for (const h of new Set(vs.hosts)) {
      if (registry.has(h) || claimedByService.has(h) || seenPatterns.has(h)) continue;
      if (scope !== null && !scope.importsVsOn(vs, NON_SERVICE_PORT)) continue;
      const routes = compileRules(vs, rulesOf(vs), (ns) => ctxFor(ns, NON_SERVICE_PORT)).map((r) => r.route);
      if (routes.length === 0) continue;
      seenPatterns.add(h);
      const aliases = hostAliases(h, workload.namespace, []);
      vhosts.push({
        name: `${h}:${NON_SERVICE_PORT}`,
        host: h,
        port: NON_SERVICE_PORT,
        domains: aliases.flatMap((a) => [a, `${a}:${NON_SERVICE_PORT}`]),
        virtualService: { namespace: vs.resource.metadata.namespace, name: vs.resource.metadata.name },
        routes,
      });
    }
  }

  // A gateway's own route tables, from the VirtualServices bound to its Gateways.
  const gatewayHosts =
    gatewayServers === null
      ? null
      : buildGatewayVirtualHosts(resources, workload.namespace, gatewayServers, byName, ctxFor);
  const gatewayTcp =
    gatewayServers === null
      ? []
      : buildGatewayTcpRoutes(resources, workload.namespace, gatewayServers, ctxFor);
  const gatewayTls =
    gatewayServers === null
      ? []
      : buildGatewayTlsRoutes(resources, workload.namespace, gatewayServers, ctxFor);

  // Every service port gets its default cluster and one per DestinationRule subset.
  for (const svc of registry.values()) {
    const dr = destinationRule(svc.host, svc.namespace);
    for (const port of svc.ports) {
      const ctx = ctxFor(svc.namespace, port.number);
      ctx.useCluster(svc.host, port.number, null);
      for (const s of dr?.subsets ?? []) ctx.useCluster(svc.host, port.number, s.name);
    }
  }
  const clusters: Record<string, Cluster> = Object.create(null) as Record<string, Cluster>;
  for (const [key, w] of wanted) {
    const svc = registry.get(w.host);
    clusters[key] = buildCluster(
      w.host,
      w.port,
      w.subset,
      svc,
      destinationRule(w.host, svc?.namespace ?? workload.namespace),
      workload,
      meshLocality,
    );
  }
  for (const list of gatewayHosts === null ? [vhosts] : [vhosts, gatewayHosts]) {
    for (let i = 0; i < list.length; i++) {
      const v = list[i]!;
      const routes = v.routes.map((r) => withHashRetries(r, clusters));
      if (routes.some((r, j) => r !== v.routes[j])) list[i] = { ...v, routes };
    }
  }
  const services: Record<string, Service> = Object.create(null) as Record<string, Service>;
  for (const [h, s] of registry) services[h] = s;

  const lookup = createHostIndex(vhosts);
  return {
    virtualHosts: vhosts,
    tcp: {
      routes: tcpRoutes,
      lookup: (host: string, port: number) => tcpIndex.get(`${host.toLowerCase()}:${port}`) ?? null,
    },
    tls: tlsListeners.table(),
    clusters,
    services,
    conflicts: findConflicts(selected),
    lookup,
    route: (vhost: VirtualHost, req: RouteRequest) => {
      for (const r of vhost.routes) if (r.test(req)) return r;
      return null;
    },
    cluster: (key: string) => clusters[key] ?? null,
    gatewayHosts,
    gatewayTcp,
    gatewayTls,
  };
}
