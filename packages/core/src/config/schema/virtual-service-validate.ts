import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { isIpAddress } from '../validate/names.js';
import {
  checkHostname,
  checkIpSubnet,
  checkPort,
  validateDestination,
  validateExportTo,
  validateGatewayNames,
  validateLabels,
} from './networking-common-rules.js';
import { isJwtClaimRoute, validateHttpRoute } from './virtual-service-http-validate.js';
import {
  analyzeUnreachableHttpRules,
  analyzeUnreachableTcpRules,
  analyzeUnreachableTlsRules,
} from './virtual-service-unreachable.js';
import { warnUnappliedVirtualService } from './virtual-service-unapplied.js';
import type { L4MatchAttributes, RouteDestination, VirtualServiceSpec } from './virtual-service.js';

/**
 * VirtualService webhook rules (istio pkg/config/validation/validation.go
 * `ValidateVirtualService`, virtualservice.go; spec/telemetry.md §7, spec/traffic.md §1).
 */

const MESH_GATEWAY = 'mesh';

/** `host.Name.IsWildCarded`. */
function isWild(h: string): boolean {
  return h.startsWith('*');
}

/** `host.Name.Matches`: the two hostnames overlap. */
export function hostsOverlap(a: string, b: string): boolean {
  if (isWild(a) && isWild(b)) {
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  }
  if (isWild(a)) return b.endsWith(a.slice(1));
  if (isWild(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/** `host.Name.SubsetOf`: every name `a` matches is also matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (isWild(a)) return isWild(b) && a.slice(1).endsWith(b.slice(1));
  if (isWild(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/**
 * `ValidateWildcardDomainForVirtualServiceBoundToGateway`: SNI hosts may use the
 * `outbound_.<port>_._.<host>` names that AUTO_PASSTHROUGH gateways generate.
 */
function checkGatewayHost(sni: boolean, host: string): string | null {
  if (sni && host.startsWith('outbound_')) {
    const parts = host.split('_');
    if (parts.length < 4) {
      return `domain name ${host} invalid, should follow 'outbound_.<port>_._.<hostname>' format`;
    }
    const port = (parts[1] ?? '').replace(/^\.+|\.+$/g, '');
    const hostname = (parts[3] ?? '').replace(/^\.+|\.+$/g, '');
    if (parts[0] !== 'outbound')
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(parts[0])} invalid)`;
    if (!/[0-9]/.test(port))
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(port)} invalid)`;
    if (!/[a-zA-Z]/.test(hostname)) {
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(hostname)} invalid)`;
    }
    return null;
  }
  return checkHostname(host);
}

function validateL4Match(m: L4MatchAttributes, path: FieldPath, ctx: ValidationContext): void {
  for (const [i, subnet] of (m.destinationSubnets ?? []).entries()) {
    const problem = checkIpSubnet(subnet);
    if (problem !== null) ctx.error([...path, 'destinationSubnets', i], problem);
  }
  if (m.port !== undefined && m.port !== 0) {
    const problem = checkPort(m.port);
    if (problem !== null) ctx.error([...path, 'port'], problem);
  }
  validateLabels(m.sourceLabels, [...path, 'sourceLabels'], ctx);
  validateGatewayNames(m.gateways, [...path, 'gateways'], ctx);
}

/** `validateRouteDestinations` (tcp/tls). */
function validateRouteDestinations(
  dests: readonly RouteDestination[] | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  let total = 0;
  for (const [i, d] of (dests ?? []).entries()) {
    validateDestination(d.destination, [...path, i, 'destination'], ctx);
    const w = d.weight ?? 0;
    if (w < 0) ctx.error([...path, i, 'weight'], `weight ${w} < 0`);
    total += w;
  }
  if ((dests?.length ?? 0) > 1 && total === 0) ctx.error(path, 'total destination weight = 0');
}

function validateHosts(spec: VirtualServiceSpec, appliesToGateway: boolean, ctx: ValidationContext): void {
  const hosts = spec.hosts ?? [];
  const sni = (spec.tls ?? []).some((t) => t.match.some((m) => m.sniHosts.length > 0));
  let allValid = true;
  for (const [i, h] of hosts.entries()) {
    const problem = appliesToGateway ? checkGatewayHost(sni, h) : checkHostname(h);
    if (problem !== null) {
      if (!isIpAddress(h)) {
        ctx.error(['spec', 'hosts', i], problem);
        allValid = false;
      }
    } else if (!appliesToGateway && h === '*') {
      ctx.error(
        ['spec', 'hosts', i],
        'wildcard host * is not allowed for virtual services bound to the mesh gateway',
      );
      allValid = false;
    }
  }
  if (!allValid) return;
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      const a = hosts[i] as string;
      const b = hosts[j] as string;
      if (hostsOverlap(a, b))
        ctx.error(['spec', 'hosts', j], `duplicate hosts in virtual service: ${a} & ${b}`);
    }
  }
}

/** Cross-field webhook rules of a VirtualService. */
export function validateVirtualService(spec: VirtualServiceSpec, ctx: ValidationContext): void {
  const hosts = spec.hosts ?? [];
  const gateways = spec.gateways ?? [];
  const isDelegate = hosts.length === 0;
  if (isDelegate) {
    // A VirtualService without hosts is a delegate (spec/traffic.md §1 `delegate`).
    if (gateways.length > 0)
      ctx.error(['spec', 'gateways'], 'delegate virtual service must have no gateways specified');
    if ((spec.tls?.length ?? 0) > 0)
      ctx.error(['spec', 'tls'], 'delegate virtual service must have no tls route specified');
    if ((spec.tcp?.length ?? 0) > 0)
      ctx.error(['spec', 'tcp'], 'delegate virtual service must have no tcp route specified');
  }
  const appliesToGateway = gateways.length > 0 && !gateways.includes(MESH_GATEWAY);
  validateGatewayNames(gateways, ['spec', 'gateways'], ctx);

  if (!appliesToGateway) {
    for (const [i, r] of (spec.http ?? []).entries()) {
      for (const [j, m] of (r.match ?? []).entries()) {
        for (const key of ['headers', 'withoutHeaders'] as const) {
          for (const name of Object.keys(m[key] ?? {})) {
            if (!isJwtClaimRoute(name)) continue;
            ctx.error(
              ['spec', 'http', i, 'match', j, key, name],
              `JWT claim based routing (key: ${name}) is only supported for gateway, found no gateways: [${gateways.join(' ')}]`,
            );
          }
        }
      }
    }
  }

  validateHosts(spec, appliesToGateway, ctx);

  if ((spec.http?.length ?? 0) === 0 && (spec.tcp?.length ?? 0) === 0 && (spec.tls?.length ?? 0) === 0) {
    ctx.error(['spec'], 'http, tcp or tls must be provided in virtual service');
  }
  for (const [i, r] of (spec.http ?? []).entries())
    validateHttpRoute(r, ['spec', 'http', i], ctx, isDelegate);

  for (const [i, t] of (spec.tls ?? []).entries()) {
    const path: FieldPath = ['spec', 'tls', i];
    if (t.match.length === 0)
      ctx.error([...path, 'match'], 'TLS route must have at least one match condition');
    for (const [j, m] of t.match.entries()) {
      const mp: FieldPath = [...path, 'match', j];
      if (m.sniHosts.length === 0)
        ctx.error([...mp, 'sniHosts'], 'TLS match must have at least one SNI host');
      for (const [k, sni] of m.sniHosts.entries())
        validateSniHost(sni, hosts, appliesToGateway, [...mp, 'sniHosts', k], ctx);
      validateL4Match(m, mp, ctx);
    }
    if ((t.route?.length ?? 0) === 0) ctx.error([...path, 'route'], 'TLS route is required');
    validateRouteDestinations(t.route, [...path, 'route'], ctx);
  }
  for (const [i, t] of (spec.tcp ?? []).entries()) {
    const path: FieldPath = ['spec', 'tcp', i];
    for (const [j, m] of (t.match ?? []).entries()) validateL4Match(m, [...path, 'match', j], ctx);
    if ((t.route?.length ?? 0) === 0) ctx.error([...path, 'route'], 'TCP route is required');
    validateRouteDestinations(t.route, [...path, 'route'], ctx);
  }

  validateExportTo(spec.exportTo, ['spec', 'exportTo'], ctx);

  analyzeUnreachableHttpRules(spec.http ?? [], ctx);
  analyzeUnreachableTcpRules(spec.tcp ?? [], ctx);
  analyzeUnreachableTlsRules(spec.tls ?? [], ctx);
  warnUnappliedVirtualService(spec, ctx);
}

function validateSniHost(
  sni: string,
  hosts: readonly string[],
  appliesToGateway: boolean,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  const problem = appliesToGateway ? checkGatewayHost(true, sni) : checkHostname(sni);
  if (problem !== null) {
    if (isIpAddress(sni)) {
      ctx.warn(
        path,
        `using an IP address (${JSON.stringify(sni)}) goes against SNI spec and most clients do not support this`,
      );
    } else {
      ctx.error(path, problem);
    }
    return;
  }
  if (hosts.some((h) => hostSubsetOf(sni, h))) return;
  ctx.error(
    path,
    `SNI host ${JSON.stringify(sni)} is not a compatible subset of any of the virtual service hosts: [${hosts.join(', ')}]`,
  );
}
