import type {
  CompiledMatch,
  CompiledRoute,
  Mirror,
  RouteAction,
  RouteDestination,
  RouteRequest,
  Service,
} from './plan-types.js';
import type { DestinationIn, HTTPMatchRequestIn, HTTPRouteIn } from './spec-types.js';
import { compileMatch, sourceMatches } from './match.js';
import { compileRetries } from './retry.js';
import {
  compileCors,
  compileDirectResponse,
  compileFault,
  compileHeaders,
  compileRedirect,
  compileRewrite,
  percentOf,
} from './route-policies.js';
import { resolveShortName } from './hosts.js';
import { clusterKey } from './clusters.js';
import { toMs } from './duration.js';
import { routeOperation } from './route-operation.js';
import type { WorkloadIdentity } from './workload.js';

/** What compiling a rule needs to know about where it is used. */
export interface RouteContext {
  /** Namespace short destination hosts resolve in (the VirtualService's, or the delegate's). */
  readonly namespace: string;
  /** The port the virtual host listens on (the port the client called). */
  readonly port: number;
  readonly workload: WorkloadIdentity;
  readonly gateways: ReadonlySet<string>;
  readonly service: (hostName: string) => Service | undefined;
  /** Records every cluster a route points at, so the plan can build it. */
  readonly useCluster: (hostName: string, port: number, subset: string | null) => void;
}

/**
 * Port of a destination: the one given, else the service's only port, else the
 * port the client called (spec/traffic.md §1 "Destinations").
 */
function destinationPort(d: DestinationIn, hostName: string, ctx: RouteContext): number {
  if (d.port?.number !== undefined) return d.port.number;
  const svc = ctx.service(hostName);
  if (svc !== undefined && svc.ports.length === 1) return (svc.ports[0] as { number: number }).number;
  return ctx.port;
}

function target(d: DestinationIn, ctx: RouteContext) {
  const hostName = resolveShortName(d.host, ctx.namespace);
  const port = destinationPort(d, hostName, ctx);
  const subset = d.subset === undefined || d.subset === '' ? null : d.subset;
  ctx.useCluster(hostName, port, subset);
  return { host: hostName, port, subset, cluster: clusterKey(hostName, port, subset) };
}

function routeAction(rule: HTTPRouteIn, ctx: RouteContext): RouteAction {
  if (rule.redirect !== undefined) return compileRedirect(rule.redirect);
  if (rule.directResponse !== undefined) return compileDirectResponse(rule.directResponse);
  const dests = rule.route ?? [];
  // A single destination gets all traffic whatever its weight; otherwise share = w/Σw, weight 0 dropped.
  const weighted =
    dests.length === 1
      ? dests.map((d) => ({ d, w: 1 }))
      : dests.map((d) => ({ d, w: d.weight ?? 0 })).filter((x) => x.w > 0);
  const total = weighted.reduce((s, x) => s + x.w, 0);
  const destinations: RouteDestination[] = weighted.map(({ d, w }) => ({
    ...target(d.destination, ctx),
    weight: total === 0 ? 0 : (w * 100) / total,
    headers: compileHeaders(d.headers),
  }));
  return { kind: 'route', destinations, weighted: dests.length > 1 };
}

function mirrors(rule: HTTPRouteIn, ctx: RouteContext): Mirror[] {
  const out: Mirror[] = [];
  if (rule.mirror !== undefined) {
    // Absent percentage ⇒ 100%; the deprecated integer `mirrorPercent` is the fallback (istio `MirrorPercent`).
    const percent = percentOf(rule.mirrorPercentage, rule.mirrorPercent ?? rule.mirror_percent, 100);
    if (percent > 0) out.push({ ...target(rule.mirror, ctx), percent });
  }
  for (const m of rule.mirrors ?? []) {
    const percent = percentOf(m.percentage, undefined, 100);
    if (percent > 0) out.push({ ...target(m.destination, ctx), percent });
  }
  return out;
}

/**
 * Compiles one `HTTPRoute` for one virtual host and this workload. Matches for
 * another listener port or another caller (`sourceLabels`, `sourceNamespace`,
 * `gateways`) are dropped; a rule whose matches are all dropped yields null
 * (istio route.go `translateRoute` / `sourceMatchHTTP`). `catchAll` tells the
 * caller later rules are unreachable.
 */
export function compileRoute(
  rule: HTTPRouteIn,
  id: string,
  owner: {
    readonly virtualService: CompiledRoute['virtualService'];
    readonly delegate: CompiledRoute['delegate'];
  },
  ctx: RouteContext,
): { route: CompiledRoute; catchAll: boolean } | null {
  const matches: CompiledMatch[] = [];
  const kept: HTTPMatchRequestIn[] = [];
  let catchAll = false;
  if (rule.match === undefined || rule.match.length === 0) {
    catchAll = true;
  } else {
    for (const m of rule.match) {
      if (m.port !== undefined && m.port !== ctx.port) continue;
      if (!sourceMatches(m, ctx.workload.labels, ctx.workload.namespace, ctx.gateways)) continue;
      const c = compileMatch(m);
      matches.push(c);
      kept.push(m);
      if (c.catchAll) {
        catchAll = true;
        break;
      }
    }
    if (matches.length === 0) return null;
  }
  // The entries stay when one is catch-all: a request the ones before it match takes
  // their prefix (rewrite, redirect) and name (%ROUTE_NAME%), as each entry is its own
  // Envoy route (istio route.go translateRoute).
  const test =
    catchAll || matches.length === 0
      ? () => true
      : matches.length === 1
        ? (matches[0] as CompiledMatch).test
        : (req: RouteRequest) => {
            for (const m of matches) if (m.test(req)) return true;
            return false;
          };
  const isRoute = rule.redirect === undefined && rule.directResponse === undefined;
  const action = routeAction(rule, ctx);
  const vsName = owner.virtualService?.name ?? '';
  const route: CompiledRoute = {
    id,
    name: rule.name ?? null,
    virtualService: owner.virtualService,
    delegate: owner.delegate,
    matches,
    test,
    action,
    rewrite: isRoute ? compileRewrite(rule.rewrite) : null,
    headers: compileHeaders(rule.headers),
    timeoutMs: toMs(rule.timeout),
    retries: isRoute ? compileRetries(rule.retries) : null,
    fault: isRoute ? compileFault(rule.fault) : null,
    mirrors: isRoute ? mirrors(rule, ctx) : [],
    cors: compileCors(rule.corsPolicy),
    operations:
      kept.length === 0
        ? [routeOperation(null, action, vsName, ctx.port)]
        : kept.map((m) => routeOperation(m, action, vsName, ctx.port)),
  };
  return { route, catchAll };
}
