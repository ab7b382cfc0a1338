import { DIAGNOSTIC_CODES } from '../diagnostic-codes.js';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type { VirtualServiceSpec } from './virtual-service.js';

// `tcp` routes apply to `mesh.connect` (compile/sidecar-tcp-routes.ts), `tls` routes to
// `mesh.connect` and https calls (compile/sidecar-tls-routes.ts), and a gateway's TCP and
// passthrough servers apply both: none of them is warned about.

/**
 * VirtualService settings meshlet validates but does not act on, each warned (MESHLET0004)
 * with what happens instead, never silently ignored (DESIGN.md "Istio is the spec").
 */
export function warnUnappliedVirtualService(spec: VirtualServiceSpec, ctx: ValidationContext): void {
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
