import { DIAGNOSTIC_CODES } from '../diagnostic-codes.js';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type { VirtualServiceSpec } from './virtual-service.js';

const HTTP_ONLY =
  'meshlet routes HTTP only: a call to a port these routes would carry goes straight to the host and port of its URL';

/**
 * VirtualService settings meshlet validates but does not act on, each warned (MESHLET0004)
 * with what happens instead, never silently ignored (DESIGN.md "Istio is the spec").
 */
export function warnUnappliedVirtualService(spec: VirtualServiceSpec, ctx: ValidationContext): void {
  // A TLS port has no virtual host in meshlet's plan (compile/outbound.ts), so the call is
  // sent directly (outbound/passthrough.ts sendDirect), where Envoy's SNI filter chain
  // would apply these routes' weights and subsets. `tcp` routes apply to `mesh.connect`
  // (compile/sidecar-tcp-routes.ts) and to a gateway's TCP servers; a gateway's TLS
  // PASSTHROUGH servers take `tls` routes (mesh.listenGatewayTcp), so only a VirtualService
  // for the sidecars is warned about its `tls` routes.
  const forMesh = spec.gateways === undefined || spec.gateways.length === 0 || spec.gateways.includes('mesh');
  if ((spec.hosts?.length ?? 0) > 0 && forMesh && (spec.tls?.length ?? 0) > 0)
    warn(
      ['spec', 'tls'],
      `tls routes are not applied by meshlet's sidecar (a gateway applies them to its TLS passthrough servers): ${HTTP_ONLY}, with no SNI routing`,
      ctx,
    );
  // istio route.go translateRoute: statPrefix names the route's Envoy stats
  // (vhost.<vhost>.route.<statPrefix>.*).
  for (const [i, r] of (spec.http ?? []).entries()) {
    for (const [j, m] of (r.match ?? []).entries()) {
      if (m.statPrefix === undefined || m.statPrefix === '') continue;
      warn(
        ['spec', 'http', i, 'match', j, 'statPrefix'],
        'statPrefix is not applied by meshlet: it keeps no per-route statistics, so nothing is counted under this prefix',
        ctx,
      );
    }
  }
}

function warn(path: FieldPath, message: string, ctx: ValidationContext): void {
  ctx.warn(path, message, DIAGNOSTIC_CODES.unsupported);
}
