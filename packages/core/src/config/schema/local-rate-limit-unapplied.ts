import type { Problem } from './local-rate-limit-read.js';
import type { FieldPath } from '../diagnostic.js';
import type { PatchOperation } from './envoy-filter.js';
import { inboundScope, type ScopedPatch } from './local-rate-limit-scope.js';

/** What the checks read of a rate limit patch, local or global. */
export interface UnappliedInput extends ScopedPatch {
  readonly path: FieldPath;
  readonly operation: PatchOperation;
}

const IGNORED = 'this patch is ignored';

const CONTEXT: Readonly<Record<string, string>> = {
  SIDECAR_OUTBOUND:
    'it limits only the requests a workload receives, so the calls a workload makes are not rate limited',
  WAYPOINT: 'it runs no waypoint proxy',
};

/**
 * What a local rate limit patch asks for that meshlet does not do, each warned
 * (MESHLET0004) at its field, never silently dropped (DESIGN.md "Istio is the spec").
 * Where the patch applies is local-rate-limit-scope.ts.
 */
export function unappliedLocalRateLimit(p: UnappliedInput): Problem[] {
  const match: readonly (string | number)[] = [...p.path, 'match'];
  // GATEWAY applies on a workload that runs as a gateway (and, as in Istio, nowhere else).
  const scope = inboundScope(p, p.context === 'GATEWAY');
  if (!scope.applies) {
    if (scope.why === 'gatewayRoute')
      return [
        {
          path: [...match, 'routeConfiguration'],
          message: `a gateway's route patch is scoped by routeConfiguration.portNumber alone in meshlet, which builds no Gateway routes or virtual hosts to match a name, port name, gateway, virtual host or route; ${IGNORED}`,
        },
      ];
    if (scope.why === 'context')
      return [
        {
          path: [...match, 'context'],
          message: `context ${p.context} is not applied by meshlet: ${CONTEXT[p.context] ?? ''}; ${IGNORED}`,
        },
      ];
    // A SIDECAR_INBOUND patch matching no inbound route does nothing in Istio either; an
    // ANY one may match an outbound or gateway route, which meshlet does not limit.
    if (scope.why === 'routeConfiguration' && p.context === 'ANY')
      return [
        {
          path: [...match, 'routeConfiguration'],
          message: `this routeConfiguration matches no route of a sidecar’s inbound side, and meshlet applies rate limits only on a sidecar’s inbound route, not on outbound or gateway routes; ${IGNORED}`,
        },
      ];
    return [];
  }
  const out: Problem[] = [];
  const afterRouter = afterTheRouter(p);
  if (afterRouter !== null) out.push({ path: [...p.path, 'patch', 'operation'], message: afterRouter });
  // envoyfilter.go proxyMatch reads the proxy's ISTIO_VERSION and node metadata.
  const proxy = p.match?.proxy;
  if (proxy?.proxyVersion !== undefined && proxy.proxyVersion !== '')
    out.push({
      path: [...match, 'proxy', 'proxyVersion'],
      message:
        'proxyVersion is not evaluated by meshlet, which has no Istio proxy version to match: the patch applies whatever the version',
    });
  if (Object.keys(proxy?.metadata ?? {}).length > 0)
    out.push({
      path: [...match, 'proxy', 'metadata'],
      message:
        'proxy metadata is not evaluated by meshlet, which has no Envoy node metadata to match: the patch applies whatever the metadata',
    });
  return out;
}

/**
 * An HTTP filter patch that puts the filter after `envoy.filters.http.router`: ADD and
 * INSERT_AFTER without a subFilter append (istio envoyfilter/listener_patch.go
 * patchHTTPFilters), as INSERT_AFTER the router does. Envoy refuses a chain whose router is
 * not last (config/utility.cc validateTerminalFilters), so the sidecar rejects the listener.
 */
function afterTheRouter(p: UnappliedInput): string | null {
  if (p.applyTo !== 'HTTP_FILTER') return null;
  const sub = p.match?.listener?.filterChain?.filter?.subFilter?.name;
  const appends = p.operation === 'ADD' || (p.operation === 'INSERT_AFTER' && sub === undefined);
  if (!appends && !(p.operation === 'INSERT_AFTER' && sub === 'envoy.filters.http.router')) return null;
  return `${p.operation}${sub === undefined ? '' : ` ${sub}`} puts the filter after envoy.filters.http.router, and Envoy rejects a chain whose router is not the last filter, so a sidecar refuses this listener; meshlet does not apply the filter. Use operation INSERT_BEFORE with subFilter envoy.filters.http.router to limit after authorization; ${IGNORED}`;
}
