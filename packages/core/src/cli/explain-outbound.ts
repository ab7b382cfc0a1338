import type {
  CompiledRoute,
  MeshPlan,
  RouteDestination,
  RouteRequest,
  VirtualHost,
} from '../compile/plan-types.js';
import { describeRetries } from '../compile/retry.js';
import type { HeaderRecord } from '../outbound/request-input.js';
import { parseTarget } from '../outbound/request-input.js';
import { isIP } from 'node:net';
import { gatewayPort } from '../gateway/gateway-port.js';
import { gatewayView } from '../gateway/gateway-view.js';
import { routeNameForSni } from '../gateway/server-route.js';
import { callTimeouts } from '../outbound/route-request.js';
import { corsRequest } from '../outbound/cors.js';
import { describeFaultPolicy, summarizePolicy, type PolicySummary } from './explain-policy.js';

/** One `HTTPMatchRequest` of a route checked against the request. */
export interface MatchCheck {
  readonly match: string;
  readonly matched: boolean;
  /** The conditions that failed (empty when it matched). */
  readonly failed: readonly string[];
}

/** One route checked, in order, up to and including the one that matched. */
export interface RouteCheck {
  readonly id: string;
  readonly virtualService: string | null;
  readonly matched: boolean;
  /** Empty for a catch-all route. */
  readonly matches: readonly MatchCheck[];
}

export interface DestinationExplanation {
  readonly host: string;
  readonly port: number;
  readonly subset: string | null;
  /** Share in percent. */
  readonly weight: number;
  readonly cluster: string;
  /** `ok`, or why the cluster answers `503 NC`. */
  readonly status: 'ok' | 'no-host' | 'no-subset' | 'no-port' | 'unknown';
  readonly endpoints: number;
  readonly subsetLabels: Readonly<Record<string, string>>;
  readonly destinationRules: readonly string[];
  readonly policy: PolicySummary | null;
}

/** Why an outbound request goes where it goes (`meshlet explain --request`). */
export interface OutboundExplanation {
  readonly kind: 'outbound';
  readonly workload: string;
  readonly request: {
    readonly method: string;
    readonly url: string;
    readonly authority: string;
    readonly port: number;
  };
  /** For `--gateway`: the Gateway server port whose route table decided (`explainGateway`). */
  readonly gatewayPort?: number;
  /**
   * For `--gateway` on a port whose servers terminate TLS: the SNI the client sends and the
   * route configuration of the server it picks (`https.<port>.<name>.<gateway>.<ns>`), null
   * when no server takes the name and the handshake fails.
   */
  readonly gatewayTls?: { readonly sni: string | null; readonly routeName: string | null };
  readonly virtualHost: { readonly name: string; readonly virtualService: string | null } | null;
  /** Routes checked in order; the last one matched unless `route` is null. */
  readonly routes: readonly RouteCheck[];
  readonly route: {
    readonly id: string;
    readonly virtualService: string | null;
    readonly matchedBy: string;
  } | null;
  /** One line: where the request ends up. */
  readonly outcome: string;
  readonly destinations: readonly DestinationExplanation[];
  readonly timeout: string;
  readonly retries: string;
  readonly fault: string;
  /** What the route's corsPolicy does with this request; null when the route has none. */
  readonly cors: string | null;
  readonly mirrors: readonly string[];
  readonly rewrite: string | null;
}

const keyName = (k: { readonly namespace: string; readonly name: string } | null): string | null =>
  k === null ? null : `${k.name}.${k.namespace}`;

/** What the request had for a failed condition (`header end-user exact "jason"` → its end-user value). */
function got(condition: string, req: RouteRequest): string {
  const header = /^header (\S+) /.exec(condition);
  if (header !== null) {
    const v = req.headers[header[1] as string];
    return v === undefined ? 'absent' : JSON.stringify(typeof v === 'string' ? v : v.join(','));
  }
  const q = req.path.indexOf('?');
  if (condition.startsWith('uri ')) return JSON.stringify(q < 0 ? req.path : req.path.slice(0, q));
  if (condition.startsWith('method ')) return req.method;
  if (condition.startsWith('authority ')) return JSON.stringify(req.authority);
  if (condition.startsWith('scheme ')) return req.scheme;
  const query = /^query (\S+) /.exec(condition);
  if (query !== null) {
    const params = new URLSearchParams(q < 0 ? '' : req.path.slice(q + 1));
    const v = params.get(query[1] as string);
    return v === null ? 'absent' : JSON.stringify(v);
  }
  return '';
}

function checkRoute(r: CompiledRoute, req: RouteRequest): RouteCheck {
  const matches = r.matches.map((m): MatchCheck => {
    const failed = m.conditions
      .filter((c) => !c.test(req))
      .map((c) => {
        const d = c.describe();
        const g = got(d, req);
        return g === '' ? d : `${d} (got ${g})`;
      });
    return { match: m.describe(), matched: m.test(req), failed };
  });
  return { id: r.id, virtualService: keyName(r.virtualService), matched: r.test(req), matches };
}

function destinations(plan: MeshPlan, r: CompiledRoute): DestinationExplanation[] {
  return r.action.kind === 'route' ? explainDestinations(plan, r.action.destinations) : [];
}

/** Each weighted destination with its cluster, endpoints and effective policy. */
export function explainDestinations(
  plan: MeshPlan,
  dests: readonly RouteDestination[],
): DestinationExplanation[] {
  return dests.map((d) => {
    const c = plan.outbound.cluster(d.cluster);
    return {
      host: d.host,
      port: d.port,
      subset: d.subset,
      weight: d.weight,
      cluster: d.cluster,
      status: c?.status ?? 'unknown',
      endpoints: c?.endpoints.length ?? 0,
      subsetLabels: c?.subsetLabels ?? {},
      destinationRules: c?.destinationRules.map((k) => `${k.name}.${k.namespace}`) ?? [],
      policy: c === null ? null : summarizePolicy(c, plan),
    };
  });
}

function outcomeOf(r: CompiledRoute, dests: readonly DestinationExplanation[]): string {
  const a = r.action;
  if (a.kind === 'redirect') return `redirect ${a.status}${a.uri === null ? '' : ` to ${a.uri}`}`;
  if (a.kind === 'directResponse') return `direct response ${a.status}`;
  if (dests.length === 0) return '503 NC (the route has no destination)';
  const parts = dests.map((d) => {
    const where = `${d.host}:${d.port}${d.subset === null ? '' : ` subset ${d.subset}`}`;
    const nc = d.status === 'ok' ? '' : ` → 503 NC (${d.status})`;
    return dests.length === 1 ? `${where}${nc}` : `${d.weight}% ${where}${nc}`;
  });
  return parts.join(', ');
}

const PREFLIGHT_ANSWERED = 'CORS preflight answered by the route';

/** The route's corsPolicy applied to this request, as the pipeline's CORS step (outbound/cors.ts) does. */
function describeCors(route: CompiledRoute, method: string, headers: HeaderRecord): string | null {
  if (route.cors === null) return null;
  const c = corsRequest(route.cors, method, headers);
  if (c === null) return 'the route has a corsPolicy; this request has no Origin, so it is no CORS request';
  const origin = headers['origin'];
  const named = JSON.stringify(typeof origin === 'string' ? origin : origin?.[0]);
  if (c.preflight !== null) {
    const allowed =
      c.origin === null
        ? `origin ${named} not allowed (unmatchedPreflights IGNORE)`
        : `origin ${named} allowed`;
    return `${PREFLIGHT_ANSWERED} (${allowed}); nothing goes upstream`;
  }
  const preflight = method === 'OPTIONS' && headers['access-control-request-method'] !== undefined;
  if (c.origin === null)
    return preflight
      ? `origin ${named} not allowed: the preflight goes upstream (unmatchedPreflights FORWARD) and its response gets no CORS headers`
      : `origin ${named} not allowed: the response gets no CORS headers`;
  return `origin ${named} allowed: the response gets access-control-allow-origin`;
}

/** A host and port without route configuration (the pipeline's `noVirtualHost`). */
function noVirtualHost(plan: MeshPlan, hostname: string, port: number): string {
  const svc = plan.outbound.services[hostname];
  if (svc?.ports.some((p) => p.number === port) === true)
    return `sent as is to outbound|${port}||${hostname} (a service port without HTTP routes)`;
  // A Sidecar resource scopes what the workload sees, and can set the policy itself.
  const sidecar = plan.sidecar ?? null;
  const scoped = sidecar === null ? '' : ` (Sidecar ${sidecar.namespace}/${sidecar.name} scopes it)`;
  if (plan.meshConfig.outboundTrafficPolicy === 'REGISTRY_ONLY')
    return `502 from BlackHoleCluster: the host is not in the registry this workload sees (REGISTRY_ONLY)${scoped}`;
  return `PassthroughCluster: no route config for this host and port, sent directly (ALLOW_ANY)${scoped}`;
}

/**
 * Walks an outbound request through the plan the way the outbound pipeline does
 * (virtual host → first matching route → action → weighted destinations → cluster), and
 * records, for each earlier route, which condition of each match failed.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_URL` / `_SCHEME` for a bad URL.
 */
export function explainOutbound(
  plan: MeshPlan,
  input: { readonly method: string; readonly url: string; readonly headers: Readonly<HeaderRecord> },
): OutboundExplanation {
  const target = parseTarget(input.url);
  const headers: HeaderRecord = { ...input.headers };
  const hostHeader = headers['host'];
  const authority = typeof hostHeader === 'string' ? hostHeader : target.authority;
  const w = plan.workload;
  const base = {
    kind: 'outbound' as const,
    workload: `${w.namespace}/${w.name}`,
    request: { method: input.method, url: input.url, authority, port: target.port },
  };
  const empty = {
    destinations: [],
    timeout: '-',
    retries: '-',
    fault: '-',
    cors: null,
    mirrors: [],
    rewrite: null,
  };
  const vhost: VirtualHost | null = plan.outbound.lookup(authority, target.port);
  if (vhost === null) {
    return {
      ...base,
      ...empty,
      virtualHost: null,
      routes: [],
      route: null,
      outcome: noVirtualHost(plan, target.hostname, target.port),
    };
  }
  const req: RouteRequest = {
    method: input.method,
    scheme: target.scheme,
    authority,
    path: target.path,
    headers,
  };
  const chosen = plan.outbound.route(vhost, req);
  const checks: RouteCheck[] = [];
  for (const r of vhost.routes) {
    checks.push(checkRoute(r, req));
    if (r === chosen) break;
  }
  const virtualHost = { name: vhost.name, virtualService: keyName(vhost.virtualService) };
  if (chosen === null) {
    return {
      ...base,
      ...empty,
      virtualHost,
      routes: checks,
      route: null,
      outcome: '404 NR: no route matched',
    };
  }
  const last = checks[checks.length - 1];
  const matchedBy =
    chosen.matches.length === 0
      ? 'catch-all (no match conditions)'
      : (last?.matches.find((m) => m.matched)?.match ?? '');
  const dests = destinations(plan, chosen);
  const timeouts = callTimeouts(chosen, { ...headers });
  const retries = chosen.action.kind === 'route' ? describeRetries(chosen.retries) : '-';
  const cors = describeCors(chosen, input.method, headers);
  return {
    ...base,
    virtualHost,
    routes: checks,
    route: { id: chosen.id, virtualService: keyName(chosen.virtualService), matchedBy },
    outcome: cors?.startsWith(PREFLIGHT_ANSWERED) === true ? `200 ${cors}` : outcomeOf(chosen, dests),
    destinations: dests,
    timeout:
      timeouts.routeMs === null
        ? 'none (Istio sets no route timeout by default)'
        : `${timeouts.routeMs}ms (504 UT when exceeded)`,
    retries:
      timeouts.perTryMs === null || chosen.retries === null
        ? retries
        : `${retries} (per try ${timeouts.perTryMs}ms)`,
    fault: describeFaultPolicy(chosen.fault),
    cors,
    mirrors: chosen.mirrors.map((m) => `${m.percent}% to ${m.cluster}`),
    rewrite:
      chosen.rewrite === null
        ? null
        : [
            chosen.rewrite.uri === null ? '' : `uri → ${chosen.rewrite.uri}`,
            chosen.rewrite.regex === null ? '' : `uri ${chosen.rewrite.regex.describe()}`,
            chosen.rewrite.authority === null ? '' : `authority → ${chosen.rewrite.authority}`,
          ]
            .filter((s) => s !== '')
            .join(', '),
  };
}

/**
 * A request arriving at a gateway workload (`meshlet explain --gateway`), walked through the
 * route table of one Gateway server port (`port`, else its only HTTP server port), as
 * `mesh.gateway()` routes it: the URL's host is the request's `Host`, its port is ignored.
 * @throws MeshletError `MESHLET_ERR_MESH_OPTIONS` when the workload is not a gateway or
 * no Gateway server serves HTTP on `port`; `MESHLET_ERR_OUTBOUND_URL` for a bad URL.
 */
export function explainGateway(
  plan: MeshPlan,
  input: {
    readonly method: string;
    readonly url: string;
    readonly headers: Readonly<HeaderRecord>;
    readonly port?: number | undefined;
    /** The client's SNI on a TLS-terminating port; default the URL's host (none for an IP). */
    readonly sni?: string | null | undefined;
  },
): OutboundExplanation {
  const port = gatewayPort(plan.workload, plan.gateway, input.port);
  const target = parseTarget(input.url);
  const headers: HeaderRecord = { host: target.authority, ...input.headers };
  const url = `${target.scheme}://${target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname}:${port}${target.path}`;
  const sni = input.sni !== undefined ? input.sni : isIP(target.hostname) === 0 ? target.hostname : null;
  // The server's own route configuration on a TLS port (gateway/server-route.ts), as the
  // listener picks it by SNI; '' when no server takes the name.
  const routeName = routeNameForSni(plan, port, sni);
  const e = explainOutbound(gatewayView(plan, routeName), { method: input.method, url, headers });
  const explained = { ...e, request: { ...e.request, url: input.url }, gatewayPort: port };
  if (routeName === null) return explained;
  if (routeName !== '') return { ...explained, gatewayTls: { sni, routeName } };
  return {
    ...explained,
    gatewayTls: { sni, routeName: null },
    outcome: `refused at the TLS handshake: no server on port ${port} takes SNI ${sni === null ? '(none sent)' : sni}`,
  };
}
