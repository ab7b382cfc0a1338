import type { ValidationContext } from '../validate/context.js';
import { isIpAddress } from '../validate/names.js';
import {
  checkFqdn,
  checkHostname,
  checkIpSubnet,
  checkPartialWildcard,
  checkPort,
  checkPortName,
  checkProtocol,
  isHttpProtocol,
  isTlsProtocol,
  parseProtocol,
  validateAlphaWorkloadSelector,
  validateExportTo,
  validateLabels,
} from './networking-common-rules.js';
import type { ServiceEntrySpec } from './service-entry.js';
import { validateWorkloadEntryAt } from './workload-entry.js';

/**
 * ServiceEntry webhook rules (istio pkg/config/validation/validation.go
 * `ValidateServiceEntry`; spec/traffic.md §5, spec/telemetry.md §7).
 */

function isTcpProtocol(p: string | undefined): boolean {
  const proto = parseProtocol(p);
  return (
    proto === 'TCP' ||
    proto === 'HTTPS' ||
    proto === 'TLS' ||
    proto === 'Mongo' ||
    proto === 'Redis' ||
    proto === 'MySQL'
  );
}

function validateHosts(se: ServiceEntrySpec, ctx: ValidationContext): void {
  for (const [i, h] of se.hosts.entries()) {
    if (h === '*') {
      ctx.error(['spec', 'hosts', i], `invalid host ${h}`);
      continue;
    }
    const problem = checkHostname(h);
    if (problem !== null) ctx.error(['spec', 'hosts', i], problem);
    if (se.resolution !== 'DYNAMIC_DNS') {
      const partial = checkPartialWildcard(h);
      if (partial !== null) ctx.warn(['spec', 'hosts', i], partial);
    }
  }
}

function validatePorts(se: ServiceEntrySpec, ctx: ValidationContext): Set<string> {
  const names = new Set<string>();
  const numbers = new Set<number>();
  for (const [i, p] of (se.ports ?? []).entries()) {
    const at = ['spec', 'ports', i] as const;
    if (names.has(p.name))
      ctx.error([...at, 'name'], `service entry port name ${JSON.stringify(p.name)} already defined`);
    names.add(p.name);
    if (numbers.has(p.number)) ctx.error([...at, 'number'], `service entry port ${p.number} already defined`);
    numbers.add(p.number);
    // No auto-allocation here: meshlet has no IP allocator, as with ambient/DNS capture off.
    if (
      (se.addresses ?? []).length === 0 &&
      (p.protocol === undefined || p.protocol === '' || p.protocol === 'TCP')
    ) {
      ctx.warn(
        at,
        'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
      );
    }
    const nameProblem = checkPortName(p.name);
    if (nameProblem !== null) ctx.error([...at, 'name'], nameProblem);
    const protoProblem = checkProtocol(p.protocol);
    if (protoProblem !== null) ctx.error([...at, 'protocol'], protoProblem);
    const portProblem = checkPort(p.number);
    if (portProblem !== null) ctx.error([...at, 'number'], portProblem);
  }
  return names;
}

function validateDnsResolution(
  se: ServiceEntrySpec,
  servicePorts: ReadonlySet<string>,
  ctx: ValidationContext,
): void {
  const endpoints = se.endpoints ?? [];
  if (endpoints.length === 0) {
    for (const [i, h] of se.hosts.entries()) {
      const problem = checkFqdn(h);
      if (problem !== null) {
        ctx.error(
          ['spec', 'hosts', i],
          `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${se.resolution ?? ''}, ${problem}`,
        );
        break;
      }
    }
  }
  if (se.resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
    ctx.error(
      ['spec', 'endpoints'],
      `there must only be 0 or 1 endpoint for resolution mode ${se.resolution}`,
    );
  }
  for (const [i, e] of endpoints.entries()) {
    const at = ['spec', 'endpoints', i] as const;
    const addr = e.address ?? '';
    if (!isIpAddress(addr) && checkFqdn(addr) !== null) {
      ctx.error(
        [...at, 'address'],
        `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`,
      );
    }
    validateLabels(e.labels, [...at, 'labels'], ctx);
    for (const [name, p] of Object.entries(e.ports ?? {})) {
      if (!servicePorts.has(name))
        ctx.error([...at, 'ports', name], `endpoint port ${p} is not defined by the service entry`);
      const nameProblem = checkPortName(name);
      if (nameProblem !== null) ctx.error([...at, 'ports', name], nameProblem);
      const portProblem = checkPort(p);
      if (portProblem !== null) ctx.error([...at, 'ports', name], portProblem);
    }
  }
  if (
    (se.addresses ?? []).length > 0 &&
    se.hosts.length > 1 &&
    (se.ports ?? []).some((p) => isTcpProtocol(p.protocol))
  ) {
    ctx.warn(
      ['spec', 'hosts'],
      'service entry can not have more than one host specified simultaneously with address and tcp port',
    );
  }
}

function validateDynamicDns(se: ServiceEntrySpec, ctx: ValidationContext): void {
  const r = 'DYNAMIC_DNS';
  for (const [i, h] of se.hosts.entries()) {
    if (!h.startsWith('*'))
      ctx.error(['spec', 'hosts', i], `host must be wildcarded for resolution mode ${r}`);
  }
  if ((se.addresses ?? []).length > 0) {
    ctx.error(
      ['spec', 'addresses'],
      `addresses cannot be set for resolution type ${r}. HTTP route domains will only be generatedfrom the hosts field values`,
    );
  }
  if ((se.endpoints ?? []).length > 0) {
    ctx.error(
      ['spec', 'endpoints'],
      `endpoints cannot be set for resolution type ${r}. Destination IP address determined from hostsfield values`,
    );
  }
  for (const [i, p] of (se.ports ?? []).entries()) {
    const proto = parseProtocol(p.protocol);
    if (proto !== 'HTTP' && proto !== 'TLS' && proto !== 'GRPC' && proto !== 'HTTP2') {
      ctx.error(
        ['spec', 'ports', i, 'protocol'],
        `only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type ${r}`,
      );
    }
  }
}

/** Cross-field webhook rules of a ServiceEntry. */
export function validateServiceEntry(se: ServiceEntrySpec, ctx: ValidationContext): void {
  if (se.workloadSelector !== undefined) {
    const empty = validateAlphaWorkloadSelector(
      se.workloadSelector.labels,
      ['spec', 'workloadSelector', 'labels'],
      ctx,
    );
    if (empty) {
      ctx.warn(
        ['spec', 'workloadSelector'],
        'service entry: workload selector specified without labels, will be applied to all services in namespace',
      );
    }
  }
  if (se.workloadSelector !== undefined && se.endpoints !== undefined) {
    ctx.error(['spec', 'endpoints'], 'only one of WorkloadSelector or Endpoints is allowed in Service Entry');
  }
  if (se.hosts.length === 0) ctx.error(['spec', 'hosts'], 'service entry must have at least one host');
  validateHosts(se, ctx);

  let cidr = false;
  for (const [i, a] of (se.addresses ?? []).entries()) {
    cidr ||= a.includes('/');
    const problem = checkIpSubnet(a);
    if (problem !== null) ctx.error(['spec', 'addresses', i], problem);
  }
  const resolution = se.resolution ?? 'NONE';
  if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') {
    ctx.error(['spec', 'addresses'], 'CIDR addresses are allowed only for NONE/STATIC resolution types');
  }
  const servicePorts = validatePorts(se, ctx);

  switch (resolution) {
    case 'NONE':
      if ((se.endpoints ?? []).length > 0) {
        ctx.error(['spec', 'endpoints'], 'no endpoints should be provided for resolution type none');
      }
      if (se.workloadSelector !== undefined) {
        ctx.warn(
          ['spec', 'workloadSelector'],
          'workloadSelector should not be set when resolution mode is NONE',
        );
      }
      break;
    case 'STATIC':
      for (const [i, e] of (se.endpoints ?? []).entries()) {
        validateWorkloadEntryAt(e, ['spec', 'endpoints', i], ctx, servicePorts, false);
      }
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      validateDnsResolution(se, servicePorts, ctx);
      break;
    case 'DYNAMIC_DNS':
      validateDynamicDns(se, ctx);
      break;
  }

  // Several hosts on a plain TCP port cannot be told apart, unless resolution is NONE.
  if (resolution !== 'NONE' && se.hosts.length > 1) {
    const bad = (se.ports ?? []).findIndex((p) => {
      const proto = parseProtocol(p.protocol);
      return !isHttpProtocol(proto) && !isTlsProtocol(proto);
    });
    if (bad >= 0) ctx.error(['spec', 'ports', bad], 'multiple hosts provided with non-HTTP, non-TLS ports');
  }

  validateExportTo(se.exportTo, ['spec', 'exportTo'], ctx, { serviceEntry: true });
}
