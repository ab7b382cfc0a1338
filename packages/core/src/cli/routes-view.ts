import type { MeshConfig } from '../config/mesh-config.js';
import type {
  CompiledRoute,
  GatewayPlan,
  MeshPlan,
  RouteAction,
  VirtualHost,
} from '../compile/plan-types.js';
import { describeRetries } from '../compile/retry.js';

/** One row of the route table (also the JSON shape of a route). */
export interface RouteRow {
  readonly id: string;
  readonly match: readonly string[];
  readonly action: string;
  readonly destinations: readonly {
    readonly host: string;
    readonly port: number;
    readonly subset: string | null;
    readonly weight: number;
  }[];
  readonly timeout: string;
  readonly retries: string;
  readonly fault: string;
  readonly mirrors: readonly string[];
  readonly virtualService: string;
}

export interface VirtualHostView {
  /** The route configuration it belongs to: the port on a sidecar, `http.<port>` on a gateway (istioctl's NAME). */
  readonly routeName: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly domains: readonly string[];
  readonly virtualService: string | null;
  readonly routes: readonly RouteRow[];
  /** What a request matching no route gets: null when the last route is a catch-all. */
  readonly unmatched: string | null;
}

export interface RoutesView {
  readonly workload: {
    readonly namespace: string;
    readonly name: string;
    readonly serviceAccount: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly virtualHosts: readonly VirtualHostView[];
  /** A gateway's route tables (compile/gateway-routes.ts); absent for a workload beside a sidecar. */
  readonly gateway?: readonly VirtualHostView[];
  readonly conflicts: readonly string[];
  readonly fallback: { readonly domains: string; readonly action: string };
}

/** `reviews.default.svc.cluster.local` → `reviews.default`, for readable tables. */
export function shortHost(h: string): string {
  return h.endsWith('.svc.cluster.local') ? h.slice(0, -'.svc.cluster.local'.length) : h;
}

function percent(n: number): string {
  return `${Number.isInteger(n) ? n : Number(n.toFixed(2))}%`;
}

function describeAction(a: RouteAction): string {
  switch (a.kind) {
    case 'route':
      return a.destinations.length === 0
        ? 'no destination (503 NC)'
        : a.destinations
            .map(
              (d) =>
                `${shortHost(d.host)}:${d.port}${d.subset === null ? '' : `|${d.subset}`} ${percent(d.weight)}`,
            )
            .join(', ');
    case 'redirect': {
      const target = `${a.scheme ?? ''}${a.scheme === null ? '' : '://'}${a.authority ?? ''}${a.uri ?? ''}`;
      return `redirect ${a.status}${target === '' ? '' : ` ${target}`}`;
    }
    case 'directResponse':
      return `direct response ${a.status}`;
  }
}

function describeFault(r: CompiledRoute): string {
  const f = r.fault;
  if (f === null) return '';
  const parts: string[] = [];
  if (f.delay !== null) parts.push(`delay ${f.delay.ms}ms ${percent(f.delay.percent)}`);
  if (f.abort !== null)
    parts.push(
      `abort ${f.abort.httpStatus ?? `grpc ${f.abort.grpcStatus ?? ''}`} ${percent(f.abort.percent)}`,
    );
  return parts.join(', ');
}

function row(r: CompiledRoute): RouteRow {
  return {
    id: r.id,
    match: r.matches.length === 0 ? ['/*'] : r.matches.map((m) => m.describe()),
    action: describeAction(r.action),
    destinations:
      r.action.kind === 'route'
        ? r.action.destinations.map((d) => ({
            host: d.host,
            port: d.port,
            subset: d.subset,
            weight: d.weight,
          }))
        : [],
    timeout: r.timeoutMs === null ? '' : `${r.timeoutMs}ms`,
    retries: r.action.kind === 'route' ? describeRetries(r.retries) : '',
    fault: describeFault(r),
    mirrors: r.mirrors.map(
      (m) => `${shortHost(m.host)}:${m.port}${m.subset === null ? '' : `|${m.subset}`} ${percent(m.percent)}`,
    ),
    virtualService: r.virtualService === null ? '' : `${r.virtualService.name}.${r.virtualService.namespace}`,
  };
}

function vhostView(vh: VirtualHost, routeName = String(vh.port)): VirtualHostView {
  const last = vh.routes[vh.routes.length - 1];
  return {
    routeName,
    name: vh.name,
    host: vh.host,
    port: vh.port,
    domains: vh.domains,
    virtualService:
      vh.virtualService === null ? null : `${vh.virtualService.name}.${vh.virtualService.namespace}`,
    routes: vh.routes.map(row),
    unmatched: last !== undefined && last.matches.length === 0 ? null : '404 NR (no route matched)',
  };
}

function fallback(mesh: MeshConfig): RoutesView['fallback'] {
  return mesh.outboundTrafficPolicy === 'REGISTRY_ONLY'
    ? { domains: '*', action: 'BlackHoleCluster 502 (REGISTRY_ONLY)' }
    : { domains: '*', action: 'PassthroughCluster (ALLOW_ANY)' };
}

const byPortThenHost = (a: VirtualHost, b: VirtualHost): number =>
  a.port - b.port || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);

/** The route configurations of a gateway port's servers (istiod's `gatewayRDSRouteName`). */
function portRouteNames(gateway: GatewayPlan, port: number): string[] {
  const names = gateway.servers
    .filter((s) => s.port === port && s.routeName !== null)
    .map((s) => s.routeName!);
  return names.length === 0 ? [`http.${port}`] : [...new Set(names)];
}

/** The plan's outbound side (and a gateway's routes) as plain data, sorted like istioctl (port, then host). */
export function routesView(plan: MeshPlan): RoutesView {
  const vhosts = [...plan.outbound.virtualHosts].sort(byPortThenHost);
  const gw = plan.gateway ?? null;
  return {
    workload: {
      namespace: plan.workload.namespace,
      name: plan.workload.name,
      serviceAccount: plan.workload.serviceAccount,
      labels: plan.workload.labels,
    },
    virtualHosts: vhosts.map((v) => vhostView(v)),
    ...(gw === null
      ? {}
      : {
          // One table per route configuration, as istioctl lists a gateway's RDS.
          gateway: [...gw.routes.virtualHosts]
            .sort(byPortThenHost)
            .flatMap((v) => (v.routeNames ?? portRouteNames(gw, v.port)).map((name) => vhostView(v, name)))
            .sort(
              (a, b) =>
                a.port - b.port || (a.routeName < b.routeName ? -1 : a.routeName > b.routeName ? 1 : 0),
            ),
        }),
    conflicts: plan.outbound.conflicts.map(
      (c) =>
        `VirtualService ${c.dropped.name}.${c.dropped.namespace} is ignored for host ${c.host}: ${c.winner.name}.${c.winner.namespace} claimed it first`,
    ),
    fallback: fallback(plan.meshConfig),
  };
}
