import type { RouteConfigurationMatch } from './envoy-filter.js';
import type { EnvoyConfigObjectMatch, PatchContext } from './envoy-filter.js';

/** istio pilot/pkg/model/envoyfilter.go `maxProxyVersionLen`. */
export const MAX_PROXY_VERSION_LEN = 1024;

/**
 * Where a workload's inbound side applies a local rate limit patch, as istiod's EnvoyFilter
 * matching decides: on `port`, a container port (null: every port), or nowhere and why.
 */
export type InboundScope =
  | { readonly applies: true; readonly port: number | null }
  | {
      readonly applies: false;
      readonly why: 'context' | 'proxyVersion' | 'routeConfiguration' | 'gatewayRoute';
    };

/**
 * The patch contexts istiod applies to a sidecar (its inbound side, the one meshlet
 * limits) and to a gateway (envoyfilter.go: a gateway proxy takes GATEWAY and ANY patches,
 * a sidecar SIDECAR_INBOUND, SIDECAR_OUTBOUND and ANY).
 */
const SIDECAR_CONTEXTS: ReadonlySet<string> = new Set(['ANY', 'SIDECAR_INBOUND']);
const GATEWAY_CONTEXTS: ReadonlySet<string> = new Set(['ANY', 'GATEWAY']);

/** What scoping reads of a patch: any rate limit patch kind. */
export interface ScopedPatch {
  readonly applyTo: string;
  readonly context: PatchContext;
  readonly match: EnvoyConfigObjectMatch | null;
}

export function inboundScope(p: ScopedPatch, gateway = false): InboundScope {
  if (!(gateway ? GATEWAY_CONTEXTS : SIDECAR_CONTEXTS).has(p.context))
    return { applies: false, why: 'context' };
  // envoyfilter.go convertToEnvoyFilterWrapper: a pattern too long to compile matches no
  // proxy (ProxyVersionNoMatch). Shorter ones are not evaluated (local-rate-limit-unapplied.ts).
  if ((p.match?.proxy?.proxyVersion?.length ?? 0) > MAX_PROXY_VERSION_LEN)
    return { applies: false, why: 'proxyVersion' };
  if (p.applyTo === 'HTTP_FILTER') {
    // listener_patch.go listenerMatch: portNumber 0 is no port match.
    const port = p.match?.listener?.portNumber ?? 0;
    return { applies: true, port: port === 0 ? null : port };
  }
  if (gateway) {
    const port = gatewayRoutePort(p.match?.routeConfiguration);
    return port === 'unevaluated' ? { applies: false, why: 'gatewayRoute' } : { applies: true, port };
  }
  const port = inboundRoutePort(p.match?.routeConfiguration);
  return port === 'none' ? { applies: false, why: 'routeConfiguration' } : { applies: true, port };
}

/**
 * rc_patch.go routeConfigurationMatch for a gateway reads the route configuration's name
 * (`http.<port>`, or the HTTPS server's), server port name and gateway, and the virtual
 * hosts `<host>:<port>` the Gateway's servers and bound VirtualServices make. meshlet builds
 * no Gateway listeners or virtual hosts, so it scopes a gateway's route patch by
 * `portNumber` alone, and applies none that names anything else.
 */
function gatewayRoutePort(rc: RouteConfigurationMatch | undefined): number | null | 'unevaluated' {
  if (rc === undefined) return null;
  const vhost = rc.vhost;
  if (given(rc.name) || given(rc.portName) || given(rc.gateway) || given(vhost?.name)) return 'unevaluated';
  if (given(vhost?.domainName) && vhost.domainName !== '*') return 'unevaluated';
  if (given(vhost?.route?.name)) return 'unevaluated';
  return rc.portNumber !== undefined && rc.portNumber !== 0 ? rc.portNumber : null;
}

const INBOUND_ROUTE_CONFIG = /^inbound\|([1-9]\d*)\|\|$/;
const INBOUND_VHOST = /^inbound\|http\|([1-9]\d*)$/;

const given = (s: string | undefined): s is string => s !== undefined && s !== '';

/**
 * rc_patch.go routeConfigurationMatch, virtualHostMatch and routeMatch against a sidecar's
 * inbound route configuration `inbound|<port>||`, whose one virtual host
 * `inbound|http|<service port>` has the domain `*` and one route `default` with a ROUTE
 * action (httproute.go buildSidecarInboundHTTPRouteConfig). `portName` and `gateway` are
 * read for gateways only. The one port selected, null for every port, or 'none'.
 */
function inboundRoutePort(rc: RouteConfigurationMatch | undefined): number | null | 'none' {
  if (rc === undefined) return null;
  const vhost = rc.vhost;
  const route = vhost?.route;
  if (given(vhost?.domainName) && vhost.domainName !== '*') return 'none';
  if (given(route?.name) && route.name !== 'default') return 'none';
  if (route?.action === 'REDIRECT' || route?.action === 'DIRECT_RESPONSE') return 'none';
  const exact: number[] = [];
  if (given(rc.name)) {
    const m = INBOUND_ROUTE_CONFIG.exec(rc.name);
    if (m === null) return 'none';
    exact.push(Number(m[1]));
  }
  if (rc.portNumber !== undefined && rc.portNumber !== 0) exact.push(rc.portNumber);
  if (exact.some((p) => p !== exact[0])) return 'none';
  let vhostPort: number | null = null;
  if (given(vhost?.name)) {
    const m = INBOUND_VHOST.exec(vhost.name);
    if (m === null) return 'none';
    vhostPort = Number(m[1]);
  }
  // The virtual host is named after the Service port, the route configuration after the
  // container port (listener_inbound.go); meshlet sees only the container port a request
  // arrives on, so the virtual host's port stands for it unless the container port is
  // named (the two are one in the istio.io task).
  return exact[0] ?? vhostPort;
}
