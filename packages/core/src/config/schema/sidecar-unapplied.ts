import { DIAGNOSTIC_CODES } from '../diagnostic-codes.js';
import type { ValidationContext } from '../validate/context.js';
import type { SidecarSpec } from './sidecar.js';

/**
 * Sidecar settings meshlet validates but does not act on, each warned (MESHLET0004) with
 * what happens instead (DESIGN.md "Istio is the spec"). Applied: `workloadSelector`,
 * `egress[].hosts` and `port` (compile/sidecar-scope.ts), `outboundTrafficPolicy.mode`.
 */
export function warnUnappliedSidecar(spec: SidecarSpec, ctx: ValidationContext): void {
  const warn = (path: (string | number)[], message: string) =>
    ctx.warn(path, message, DIAGNOSTIC_CODES.unsupported);
  for (const i of (spec.ingress ?? []).keys())
    warn(
      ['spec', 'ingress', i],
      'ingress listeners are not applied by meshlet: the application serves its own ports (mesh.listen, mesh.listenTcp); defaultEndpoint, captureMode, tls and connectionPool here have no effect',
    );
  for (const [i, l] of (spec.egress ?? []).entries()) {
    if ((l.bind ?? '') !== '')
      warn(
        ['spec', 'egress', i, 'bind'],
        'bind is not applied by meshlet: no listener is opened; the listener only scopes which hosts the workload sees on its port',
      );
    if (l.captureMode !== undefined && l.captureMode !== 'DEFAULT')
      warn(
        ['spec', 'egress', i, 'captureMode'],
        'captureMode is not applied by meshlet: there is no traffic capture, calls go through mesh.fetch and mesh.connect',
      );
  }
  if (spec.inboundConnectionPool !== undefined)
    warn(
      ['spec', 'inboundConnectionPool'],
      'inboundConnectionPool is not applied by meshlet: inbound connections are limited by the application server',
    );
}
