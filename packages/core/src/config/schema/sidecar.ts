import { z } from 'zod';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { uint } from '../validate/fields.js';
import { isIpAddress } from '../validate/names.js';
import { connectionPoolSettings } from './destination-rule-traffic-policy.js';
import { validateConnectionPool } from './destination-rule-validate.js';
import { serverTlsSettings, validateServerTls } from './gateway-tls.js';
import { destination } from './networking-common.js';
import {
  checkFqdn,
  checkPort,
  checkPortName,
  checkProtocol,
  checkUnixAddress,
  isHttpProtocol,
  isTlsProtocol,
  parseProtocol,
  validateAlphaWorkloadSelector,
  validateDestination,
} from './networking-common-rules.js';
import { validateSidecarEgressHosts } from './sidecar-egress-hosts.js';
import { warnUnappliedSidecar } from './sidecar-unapplied.js';

/**
 * Sidecar `spec` (istio/api networking/v1alpha3/sidecar.proto). meshlet applies its workload
 * selection, egress hosts and outbound traffic policy (compile/sidecar-scope.ts) and warns
 * about the rest (sidecar-unapplied.ts).
 */

const captureMode = z.enum(['DEFAULT', 'IPTABLES', 'NONE']);

/** SidecarPort `{ number, protocol, name, targetPort }`. */
export const sidecarPort = z.strictObject({
  number: uint().optional(),
  protocol: z.string().optional(),
  name: z.string().optional(),
  targetPort: uint().optional(),
});
type SidecarPort = z.infer<typeof sidecarPort>;

export const istioIngressListener = z.strictObject({
  port: sidecarPort,
  bind: z.string().optional(),
  captureMode: captureMode.optional(),
  defaultEndpoint: z.string().optional(),
  tls: serverTlsSettings.optional(),
  connectionPool: connectionPoolSettings.optional(),
});

export const istioEgressListener = z.strictObject({
  port: sidecarPort.optional(),
  bind: z.string().optional(),
  captureMode: captureMode.optional(),
  hosts: z.array(z.string()),
});

export const sidecarSpec = z.strictObject({
  workloadSelector: z
    .strictObject({
      labels: z
        .record(
          z.string(),
          z.string().refine((v) => !v.includes('*'), { message: 'wildcard is not supported in selector' }),
        )
        .optional(),
    })
    .optional(),
  ingress: z.array(istioIngressListener).optional(),
  egress: z.array(istioEgressListener).optional(),
  inboundConnectionPool: connectionPoolSettings.optional(),
  outboundTrafficPolicy: z
    .strictObject({
      mode: z.enum(['REGISTRY_ONLY', 'ALLOW_ANY']).optional(),
      egressProxy: destination.optional(),
    })
    .optional(),
});
export type SidecarSpec = z.infer<typeof sidecarSpec>;

const UNIX = 'unix://';

function validatePortAndBind(
  port: SidecarPort,
  bind: string,
  path: FieldPath,
  ctx: ValidationContext,
  egress: boolean,
): void {
  if ((port.name ?? '') !== '') {
    const problem = checkPortName(port.name ?? '');
    if (problem !== null) ctx.error([...path, 'port', 'name'], problem);
  }
  const proto = checkProtocol(port.protocol);
  if (proto !== null) ctx.error([...path, 'port', 'protocol'], proto);
  if (egress && (port.number ?? 0) === 0) {
    if (!bind.startsWith(UNIX))
      ctx.error([...path, 'bind'], 'sidecar: ports with 0 value must have a unix domain socket bind address');
    else {
      const problem = checkUnixAddress(bind.slice(UNIX.length));
      if (problem !== null) ctx.error([...path, 'bind'], problem);
    }
    return;
  }
  const problem = checkPort(port.number ?? 0);
  if (problem !== null) ctx.error([...path, 'port', 'number'], problem);
  if (bind !== '' && !isIpAddress(bind)) ctx.error([...path, 'bind'], `${bind} is not a valid IP`);
}

function validateDefaultEndpoint(ep: string, path: FieldPath, ctx: ValidationContext): void {
  if (ep.startsWith(UNIX)) {
    const problem = checkUnixAddress(ep.slice(UNIX.length));
    if (problem !== null) ctx.error(path, problem);
    return;
  }
  const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(ep);
  if (m === null) {
    ctx.error(path, `address ${ep}: missing port in address`);
    return;
  }
  const host = m[1] ?? m[2] ?? '';
  const portText = m[3] ?? '';
  if (host !== '' && !['127.0.0.1', '0.0.0.0', '::1', '::'].includes(host)) {
    ctx.error(
      path,
      'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset',
    );
  }
  const port = /^[+-]?\d+$/.test(portText) ? Number(portText) : NaN;
  if (Number.isNaN(port)) ctx.error(path, `sidecar: defaultEndpoint port (${portText}) is not a number`);
  else {
    const problem = checkPort(port);
    if (problem !== null) ctx.error(path, problem);
  }
}

/** Cross-field webhook rules of a Sidecar (`ValidateSidecar`). */
export function validateSidecar(spec: SidecarSpec, ctx: ValidationContext): void {
  warnUnappliedSidecar(spec, ctx);
  if (spec.workloadSelector !== undefined) {
    const empty = validateAlphaWorkloadSelector(
      spec.workloadSelector.labels,
      ['spec', 'workloadSelector', 'labels'],
      ctx,
    );
    if (empty) {
      ctx.warn(
        ['spec', 'workloadSelector'],
        'sidecar: workload selector specified without labels, will be applied to all services in namespace',
      );
    }
  }
  const ingress = spec.ingress ?? [];
  const egress = spec.egress ?? [];
  if (
    ingress.length === 0 &&
    egress.length === 0 &&
    spec.outboundTrafficPolicy === undefined &&
    spec.inboundConnectionPool === undefined
  ) {
    ctx.error(['spec'], 'sidecar: empty configuration provided');
    return;
  }
  const ports = new Set<number>();
  for (const [i, l] of ingress.entries()) {
    const at: FieldPath = ['spec', 'ingress', i];
    if ((l.port.targetPort ?? 0) > 0)
      ctx.error([...at, 'port', 'targetPort'], 'targetPort has no impact on Sidecars');
    validatePortAndBind(l.port, l.bind ?? '', at, ctx, false);
    const n = l.port.number ?? 0;
    if (ports.has(n))
      ctx.error([...at, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique');
    ports.add(n);
    if ((l.defaultEndpoint ?? '') !== '')
      validateDefaultEndpoint(l.defaultEndpoint ?? '', [...at, 'defaultEndpoint'], ctx);
    const tls = l.tls;
    if (tls !== undefined) {
      const tp: FieldPath = [...at, 'tls'];
      if ((tls.subjectAltNames ?? []).length > 0)
        ctx.error(tp, 'sidecar: subjectAltNames is not supported in ingress tls');
      if (tls.httpsRedirect === true) ctx.error(tp, 'sidecar: httpsRedirect is not supported');
      if ((tls.credentialName ?? '') !== '')
        ctx.error(tp, 'sidecar: credentialName is not currently supported');
      if ((tls.credentialNames ?? []).length > 0)
        ctx.error(tp, 'sidecar: credentialNames is not currently supported');
      if ((tls.tlsCertificates ?? []).length > 0)
        ctx.error(tp, 'sidecar: tls_certificates is not currently supported');
      if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') {
        ctx.error(tp, `configuration is invalid: cannot set mode to ${tls.mode} in sidecar ingress tls`);
      }
      if (!isTlsProtocol(parseProtocol(l.port.protocol)))
        ctx.error(tp, 'server cannot have TLS settings for non HTTPS/TLS ports');
      validateServerTls(tls, tp, ctx);
    }
    validateConnectionPool(l.connectionPool, [...at, 'connectionPool'], ctx);
    if (l.connectionPool?.http !== undefined && !isHttpProtocol(parseProtocol(l.port.protocol))) {
      ctx.warn(
        [...at, 'connectionPool', 'http'],
        `sidecar: HTTP connection pool settings are configured for port ${n} (${JSON.stringify(l.port.name ?? '')}) but its protocol is not HTTP (${l.port.protocol ?? ''}); only TCP settings will apply`,
      );
    }
  }
  validateConnectionPool(spec.inboundConnectionPool, ['spec', 'inboundConnectionPool'], ctx);

  const egressPorts = new Set<number>();
  const uds = new Set<string>();
  let catchAll = false;
  for (const [i, l] of egress.entries()) {
    const at: FieldPath = ['spec', 'egress', i];
    if (l.port === undefined) {
      // Only one listener may omit the port, and it must be the last one.
      if (catchAll) {
        ctx.error(at, 'sidecar: egress can have only one listener with empty port');
        continue;
      }
      if (i === egress.length - 1) catchAll = true;
      else
        ctx.error(at, 'sidecar: the egress listener with empty port should be the last listener in the list');
    } else {
      if ((l.port.targetPort ?? 0) > 0)
        ctx.error([...at, 'port', 'targetPort'], 'targetPort has no impact on Sidecars');
      const bind = l.bind ?? '';
      validatePortAndBind(l.port, bind, at, ctx, true);
      const mode = l.captureMode ?? 'DEFAULT';
      if ((l.port.number ?? 0) === 0) {
        if (mode !== 'DEFAULT' && mode !== 'NONE') {
          ctx.error(
            [...at, 'captureMode'],
            'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners',
          );
        }
        if (uds.has(bind))
          ctx.error([...at, 'bind'], 'sidecar: unix domain socket values for listeners must be unique');
        uds.add(bind);
      } else {
        const n = l.port.number ?? 0;
        if (egressPorts.has(n))
          ctx.error([...at, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique');
        egressPorts.add(n);
      }
    }
    validateSidecarEgressHosts(l.hosts, [...at, 'hosts'], ctx);
  }

  const tp = spec.outboundTrafficPolicy;
  if (tp?.egressProxy !== undefined) {
    const at: FieldPath = ['spec', 'outboundTrafficPolicy', 'egressProxy'];
    ctx.warn(at, 'Deprecated: OutboundTrafficPolicy.EgressProxy ignored', 'IST0002');
    if (tp.mode !== 'ALLOW_ANY') {
      ctx.error(at, 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode');
      return;
    }
    const fqdn = checkFqdn(tp.egressProxy.host);
    if (fqdn !== null) ctx.error([...at, 'host'], fqdn);
    if (tp.egressProxy.port === undefined) {
      ctx.error([...at, 'port'], 'sidecar: egress_proxy port must be non-nil');
      return;
    }
    validateDestination(tp.egressProxy, at, ctx);
  }
}
