import type { Resource } from '../config/resource.js';
import type { GatewayServerInfo, VirtualHost } from './plan-types.js';
import type { VirtualServiceIn } from './spec-types.js';
import type { RouteContext } from './compile-route.js';
import { createHostIndex, splitAuthority } from './domains.js';
import { hostMatches } from './hosts.js';
import { compileRules, expandRules, type RuleRoute } from './vs-rules.js';
import { selectVirtualServices, type SelectedVirtualService } from './vs-selection.js';

/**
 * istio `resolveGatewayName`: a VirtualService names a Gateway as `ns/name`, as
 * `name.ns.svc.cluster.local` (the first two labels count), or as a bare name in the
 * VirtualService's own namespace.
 */
export function resolveGatewayName(name: string, vsNamespace: string): string {
  if (name === 'mesh') return name;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const ns = name.slice(0, slash);
    return `${ns === '.' ? vsNamespace : ns}/${name.slice(slash + 1)}`;
  }
  const parts = name.split('.');
  if (parts.length > 1) return `${parts[1]}/${parts[0]}`;
  return `${vsNamespace}/${name}`;
}

/**
 * istio `VirtualServicesForGateway`: the VirtualServices whose `gateways` name `gateway`
 * (`ns/name`), in istiod's order, for a proxy in `proxyNamespace`.
 */
export function virtualServicesForGateway(
  resources: readonly Resource[],
  proxyNamespace: string,
  gateway: string,
): SelectedVirtualService[] {
  return selectVirtualServices(resources, proxyNamespace, (spec: VirtualServiceIn, ns: string) =>
    (spec.gateways ?? []).some((g) => resolveGatewayName(g, ns) === gateway),
  );
}

/** istio `host.NamesForNamespace`: the server hosts a VirtualService in `namespace` may bind. */
export function namesForNamespace(hosts: readonly string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash < 0) out.push(h.toLowerCase());
    else {
      const ns = h.slice(0, slash);
      if (ns === '*' || ns === namespace) out.push(h.slice(slash + 1).toLowerCase());
    }
  }
  return out;
}

/**
 * istio `host.Names.Intersection`: each pair of a server host and a VirtualService host
 * where one falls under the other contributes the more specific of the two.
 */
export function intersect(serverHosts: readonly string[], vsHosts: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of serverHosts) {
    for (const v of vsHosts) {
      const h = hostMatches(v, s) ? s : hostMatches(s, v) ? v : null;
      if (h !== null && !out.includes(h)) out.push(h);
    }
  }
  return out;
}

/** The context a gateway's route compiles in: its server port and its Gateway's names. */
export type GatewayContext = (namespace: string, port: number, gateways: ReadonlySet<string>) => RouteContext;

/**
 * One route table per HTTP server port, as istiod builds a gateway's
 * (gateway.go `buildGatewayHTTPRouteConfig`): for each server, the VirtualServices
 * bound to its Gateway whose hosts meet the server's hosts; one virtual host per
 * resulting host name (domains are the bare name: istiod sets
 * `ignore_port_in_host_matching`), with the routes of every VirtualService naming that
 * host appended in order, and catch-all routes moved last (route.go `SortVHostRoutes`).
 * A `tls.httpsRedirect` server's hosts require TLS. A port where nothing binds gets
 * istiod's `blackhole:<port>` virtual host, which answers everything `404 NR`.
 */
export function buildGatewayVirtualHosts(
  resources: readonly Resource[],
  proxyNamespace: string,
  servers: readonly GatewayServerInfo[],
  byName: Map<string, Resource>,
  ctxFor: GatewayContext,
): VirtualHost[] {
  const bound = new Map<string, SelectedVirtualService[]>();
  const boundTo = (gw: string): SelectedVirtualService[] => {
    let list = bound.get(gw);
    if (list === undefined) {
      list = virtualServicesForGateway(resources, proxyNamespace, gw);
      bound.set(gw, list);
    }
    return list;
  };
  const vhosts: VirtualHost[] = [];
  const ports = [...new Set(servers.filter((s) => s.http).map((s) => s.port))];
  for (const port of ports) {
    const byHost = new Map<
      string,
      { routes: RuleRoute[]; vs: VirtualHost['virtualService']; tls: boolean; routeNames: Set<string> }
    >();
    const compiled = new Map<string, RuleRoute[]>();
    for (const server of servers) {
      if (!server.http || server.port !== port) continue;
      const gw = `${server.gateway.namespace}/${server.gateway.name}`;
      const routeName = server.routeName ?? `http.${port}`;
      for (const vs of boundTo(gw)) {
        const vsNs = vs.resource.metadata.namespace;
        const hosts = intersect(namesForNamespace(server.hosts, vsNs), vs.hosts);
        if (hosts.length === 0) continue;
        const key = `${gw}|${vsNs}/${vs.resource.metadata.name}`;
        let routes = compiled.get(key);
        if (routes === undefined) {
          routes = compileRules(vs, expandRules(vs, byName), (ns) =>
            ctxFor(ns, port, gatewayNames(server.gateway, ns)),
          );
          compiled.set(key, routes);
        }
        for (const h of hosts) {
          const entry = byHost.get(h);
          const owner = { namespace: vsNs, name: vs.resource.metadata.name };
          if (entry === undefined)
            byHost.set(h, {
              routes: [...routes],
              vs: owner,
              tls: server.httpsRedirect,
              routeNames: new Set([routeName]),
            });
          else {
            entry.routes.push(...routes);
            entry.routeNames.add(routeName);
            if (server.httpsRedirect) entry.tls = true;
          }
        }
      }
      if (!server.httpsRedirect) continue;
      for (const raw of server.hosts) {
        const h = raw.slice(raw.indexOf('/') + 1).toLowerCase();
        const entry = byHost.get(h);
        if (entry === undefined)
          byHost.set(h, { routes: [], vs: null, tls: true, routeNames: new Set([routeName]) });
        else {
          entry.tls = true;
          entry.routeNames.add(routeName);
        }
      }
    }
    if (byHost.size === 0) {
      vhosts.push(blackhole(port));
      continue;
    }
    for (const [h, e] of byHost) {
      const sorted = [...e.routes.filter((r) => !r.catchAll), ...e.routes.filter((r) => r.catchAll)];
      vhosts.push({
        name: `${h}:${port}`,
        host: h,
        port,
        domains: [h],
        virtualService: e.vs,
        routes: sorted.map((r) => r.route),
        ...(e.tls ? { requireTls: true } : {}),
        routeNames: [...e.routeNames],
      });
    }
  }
  return vhosts;
}

/** The names a route's `match.gateways` may use for this Gateway, seen from `namespace`. */
export function gatewayNames(
  gw: { namespace: string; name: string },
  namespace: string,
): ReadonlySet<string> {
  const names = new Set([`${gw.namespace}/${gw.name}`]);
  if (gw.namespace === namespace) names.add(gw.name);
  return names;
}

function blackhole(port: number): VirtualHost {
  return { name: `blackhole:${port}`, host: '*', port, domains: ['*'], virtualService: null, routes: [] };
}

/**
 * The gateway's virtual host lookup: the port in the authority is ignored
 * (`ignore_port_in_host_matching`), the listener's port picks the table, and a host
 * no virtual host names gets an empty one, which Envoy answers `404 NR`.
 */
export function gatewayHostLookup(
  vhosts: readonly VirtualHost[],
): (authority: string, port?: number) => VirtualHost {
  const index = createHostIndex(vhosts);
  const empty = new Map<number, VirtualHost>();
  return (authority, port = 80) => {
    const hit = index(splitAuthority(authority).host, port);
    if (hit !== null) return hit;
    let e = empty.get(port);
    if (e === undefined) {
      e = blackhole(port);
      empty.set(port, e);
    }
    return e;
  };
}
