import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { checkWildcardDomain, isCidrOrIp, isIpAddress } from '../validate/names.js';
import type { Destination, Headers, HeaderOperations } from './networking-common.js';
import { checkHeaderValueSyntax } from './networking-common-header-value.js';

/**
 * Webhook helpers shared by the networking kinds, after istio
 * pkg/config/validation/{validation.go,agent/validation.go} and pkg/config/labels.
 */

// Istio's DNS-1123 label accepts upper case (pkg/config/labels/instance.go dns1123LabelFmt).
const ISTIO_DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const QUALIFIED_NAME = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const DNS_PREFIX =
  '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*/';
const TAG_KEY = new RegExp(`^(${DNS_PREFIX})?(${QUALIFIED_NAME})$`);
const LABEL_VALUE = new RegExp(`^(${QUALIFIED_NAME})?$`);

/** `labels.IsDNS1123Label`: 1-63 chars, alphanumerics and '-', either case. */
export function isIstioDnsLabel(s: string): boolean {
  return s.length <= 63 && ISTIO_DNS1123_LABEL.test(s);
}

/** `agent.ValidatePort`. */
export function checkPort(port: number): string | null {
  return port >= 1 && port <= 65535 ? null : `port number ${port} must be in the range 1..65535`;
}

/** `agent.ValidateFQDN`: a DNS name, no wildcard, top-level label not all-numeric. */
export function checkFqdn(name: string): string | null {
  if (name.length > 255) return `domain name ${JSON.stringify(name)} too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  const parts = name.split('.');
  const tld = parts.at(-1) ?? '';
  if (/^[-+]?\d+$/.test(tld)) {
    return `domain name ${JSON.stringify(name)} invalid (top level domain ${JSON.stringify(tld)} cannot be all-numeric)`;
  }
  for (const [i, label] of parts.entries()) {
    if (i === parts.length - 1 && label === '') return null;
    if (!isIstioDnsLabel(label))
      return `domain name ${JSON.stringify(name)} invalid (label ${JSON.stringify(label)} invalid)`;
  }
  return null;
}

/** `agent.ValidateWildcardDomain`. */
export function checkHostname(host: string): string | null {
  if (host.length === 0) return 'empty domain name not allowed';
  return checkWildcardDomain(host);
}

/** `agent.ValidatePartialWildCard`: `*` only as the whole first label. */
export function checkPartialWildcard(host: string): string | null {
  return host.includes('*') && host.length !== 1 && !host.startsWith('*.')
    ? `partial wildcard ${JSON.stringify(host)} not allowed`
    : null;
}

/** `agent.ValidateIPSubnet`: a CIDR block or an IP. */
export function checkIpSubnet(subnet: string): string | null {
  if (subnet.split('/').length === 2)
    return isCidrOrIp(subnet) ? null : `${subnet} is not a valid CIDR block`;
  return isIpAddress(subnet) ? null : `${subnet} is not a valid IP`;
}

/** `ValidateUnixAddress` on the part after `unix://`. */
export function checkUnixAddress(addr: string): string | null {
  if (addr.length === 0) return 'unix address must not be empty';
  if (addr.startsWith('@')) return null;
  if (!addr.startsWith('/') || addr.endsWith('/')) return `${addr} is not an absolute path to a file`;
  return null;
}

/** `labels.Instance.Validate`: Kubernetes label keys and values. */
export function validateLabels(
  labels: Readonly<Record<string, string>> | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const m = TAG_KEY.exec(k);
    if (m === null) ctx.error([...path, k], `invalid tag key: ${JSON.stringify(k)}`);
    else if ((m[1]?.length ?? 0) - 1 > 253)
      ctx.error([...path, k], `invalid tag key: ${JSON.stringify(k)} (DNS prefix is too long)`);
    else if ((m[2]?.length ?? 0) > 63)
      ctx.error([...path, k], `invalid tag key: ${JSON.stringify(k)} (name is too long)`);
    if (!LABEL_VALUE.test(v)) ctx.error([...path, k], `invalid tag value: ${JSON.stringify(v)}`);
  }
}

/** `ValidateAlphaWorkloadSelector` (ServiceEntry, Sidecar `workloadSelector.labels`). Returns true when labels are empty. */
export function validateAlphaWorkloadSelector(
  labels: Readonly<Record<string, string>> | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): boolean {
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k === '')
      ctx.error([...path, k], `empty key is not supported in selector: ${JSON.stringify(`${k}=${v}`)}`);
    if (k.includes('*') || v.includes('*')) {
      ctx.error([...path, k], `wildcard is not supported in selector: ${JSON.stringify(`${k}=${v}`)}`);
    }
  }
  return Object.keys(labels ?? {}).length === 0;
}

/** `validateExportTo`: no duplicates (`.` = own namespace), `*` alone, `~` only on ServiceEntry and alone. */
export function validateExportTo(
  exportTo: readonly string[] | undefined,
  path: FieldPath,
  ctx: ValidationContext,
  opts: { serviceEntry?: boolean; drWithSelector?: boolean } = {},
): void {
  if (exportTo === undefined || exportTo.length === 0) return;
  const seen = new Set<string>();
  for (const [i, e] of exportTo.entries()) {
    const key = e === '.' ? ctx.namespace : e;
    if (seen.has(key)) {
      ctx.error(
        [...path, i],
        key !== e
          ? `duplicate entries in exportTo: . and current namespace ${ctx.namespace}`
          : `duplicate entries in exportTo for entry ${e}`,
      );
    } else if (opts.serviceEntry === true && e === '~') {
      seen.add(key);
    } else if (key === '~') {
      ctx.error([...path, i], 'exportTo ~ (none) is not allowed for Istio configuration objects');
    } else if (key !== '*' && !isIstioDnsLabel(key)) {
      ctx.error([...path, i], 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry');
    } else {
      seen.add(key);
    }
  }
  if (opts.drWithSelector === true && seen.size > 0) {
    if (!seen.has(ctx.namespace)) {
      ctx.error(
        path,
        'destination rule with workload selector cannot have exportTo beyond current namespace',
      );
    } else if (seen.size > 1) {
      ctx.error(path, 'destination rule with workload selector cannot have multiple entries in exportTo');
    }
  }
  if (seen.has('*') && exportTo.length > 1) {
    ctx.error(path, 'cannot have both public (*) and non-public exportTo values for a resource');
  }
  if (seen.has('~') && exportTo.length > 1)
    ctx.error(path, 'cannot export service entry to no one (~) and someone');
}

/** `validateSubsetName`. */
export function checkSubsetName(name: string): string | null {
  if (name.length === 0) return 'subset name cannot be empty';
  return isIstioDnsLabel(name) ? null : `subset name is invalid: ${name}`;
}

/** `validateDestination`: host (not `*`), subset name, port. */
export function validateDestination(
  dest: Destination | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (dest === undefined) return;
  if (dest.host === '*') ctx.error([...path, 'host'], `invalid destination host ${dest.host}`);
  else {
    const problem = checkHostname(dest.host);
    if (problem !== null) ctx.error([...path, 'host'], problem);
  }
  if (dest.subset !== undefined && dest.subset !== '') {
    const problem = checkSubsetName(dest.subset);
    if (problem !== null) ctx.error([...path, 'subset'], problem);
  }
  if (dest.port !== undefined) {
    const problem = checkPort(dest.port.number ?? 0);
    if (problem !== null) ctx.error([...path, 'port', 'number'], problem);
  }
}

/** `validateGatewayNames`: `ns/name` (both DNS labels) or a legacy FQDN-ish name. */
export function validateGatewayNames(
  names: readonly string[] | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  for (const [i, name] of (names ?? []).entries()) {
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const parts = name.split('.');
        ctx.warn(
          [...path, i],
          `using legacy gatewayName format ${JSON.stringify(name)}; prefer the <namespace>/<name> format: ${JSON.stringify(`${parts[1] ?? ''}/${parts[0] ?? ''}`)}`,
        );
      }
      const problem = checkFqdn(name);
      if (problem !== null) ctx.error([...path, i], problem);
      // Istio stops at the first short name (validateGatewayNames returns early).
      return;
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (ns === '' || gw === '') ctx.error([...path, i], 'config namespace and gateway name cannot be empty');
    if (!isIstioDnsLabel(ns)) ctx.error([...path, i], `invalid value for namespace: ${JSON.stringify(ns)}`);
    if (!isIstioDnsLabel(gw))
      ctx.error([...path, i], `invalid value for gateway name: ${JSON.stringify(gw)}`);
  }
}

// Envoy's header value rule (protoc-gen-validate): no control characters but tab.
// eslint-disable-next-line no-control-regex
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

function isInternalHeader(name: string): boolean {
  return name.startsWith(':') || name.toLowerCase() === 'host';
}

export function isAuthorityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === ':authority' || n === 'host';
}

function checkHeaderValue(value: string): string | null {
  if (!HEADER_VALUE.test(value)) return `header value configuration ${value} is invalid`;
  const problem = checkHeaderValueSyntax(value);
  return problem === null ? null : `header value configuration: ${problem}`;
}

function checkOpName(name: string, allowAuthority: boolean): string | null {
  if (name === '') return 'header name cannot be empty';
  if (allowAuthority) {
    return isInternalHeader(name) && !isAuthorityHeader(name)
      ? `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`
      : null;
  }
  if (name.toLowerCase() === 'host') return `invalid header ${JSON.stringify(name)}: cannot set Host header`;
  if (name.startsWith(':')) return `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`;
  return null;
}

function validateOps(
  ops: HeaderOperations | undefined,
  path: FieldPath,
  ctx: ValidationContext,
  request: boolean,
): void {
  if (ops === undefined) return;
  for (const kind of ['add', 'set'] as const) {
    for (const [name, value] of Object.entries(ops[kind] ?? {})) {
      // Request add/set may target the authority (`:authority`/`host`): that is an authority rewrite.
      const nameProblem = checkOpName(name, request);
      if (nameProblem !== null) ctx.error([...path, kind, name], nameProblem);
      const valueProblem = checkHeaderValue(value);
      if (valueProblem !== null) ctx.error([...path, kind, name], valueProblem);
    }
  }
  for (const [i, name] of (ops.remove ?? []).entries()) {
    const problem = checkOpName(name, false);
    if (problem !== null) ctx.error([...path, 'remove', i], problem);
  }
}

/** Header operations of a route or destination (`ValidateHTTPHeader*OperationName`, `ValidateHTTPHeaderValue`). */
export function validateHeaderOperations(
  h: Headers | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (h === undefined) return;
  validateOps(h.request, [...path, 'request'], ctx, true);
  validateOps(h.response, [...path, 'response'], ctx, false);
}

export type ProtocolName =
  | 'TCP'
  | 'UDP'
  | 'GRPC'
  | 'GRPC-Web'
  | 'HTTP'
  | 'HTTP_PROXY'
  | 'HTTP2'
  | 'HTTPS'
  | 'TLS'
  | 'Mongo'
  | 'Redis'
  | 'MySQL'
  | 'Unsupported';

const PROTOCOLS: Readonly<Record<string, ProtocolName>> = {
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  http: 'HTTP',
  http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2',
  https: 'HTTPS',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
};

/** istio pkg/config/protocol `Parse`, case-insensitive. */
export function parseProtocol(s: string | undefined): ProtocolName {
  return PROTOCOLS[(s ?? '').toLowerCase()] ?? 'Unsupported';
}

export function isHttpProtocol(p: ProtocolName): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web';
}

export function isTlsProtocol(p: ProtocolName): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

/** `ValidateProtocol`: empty means sniffing. */
export function checkProtocol(s: string | undefined): string | null {
  return s !== undefined && s !== '' && parseProtocol(s) === 'Unsupported'
    ? `unsupported protocol: ${s}`
    : null;
}

/** `ValidatePortName`. */
export function checkPortName(name: string): string | null {
  return isIstioDnsLabel(name) ? null : `invalid port name: ${name}`;
}

/** `IST0002` text as istio's deprecation analyzer words it. */
export function deprecatedReplaced(deprecated: string, replacement: string): string {
  return `Deprecated: ${deprecated} is deprecated; use ${replacement}`;
}
