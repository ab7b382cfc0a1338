import { z } from 'zod';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { stringMap, uint } from '../validate/fields.js';
import { isIpAddress } from '../validate/names.js';
import { serverTlsSettings, validateServerTls } from './gateway-tls.js';
import {
  checkHostname,
  checkPartialWildcard,
  checkPort,
  checkUnixAddress,
  isHttpProtocol,
  isIstioDnsLabel,
  isTlsProtocol,
  parseProtocol,
} from './networking-common-rules.js';

export type { ServerTLSSettings } from './gateway-tls.js';

/** Gateway `spec` (istio/api networking/v1alpha3/gateway.proto) and its webhook rules. */

/** Port `{ number, protocol, name, targetPort }`; `targetPort` is deprecated and has no effect on gateways. */
export const gatewayPort = z.strictObject({
  number: uint(),
  protocol: z.string(),
  name: z.string(),
  targetPort: uint().optional(),
});
export type GatewayPort = z.infer<typeof gatewayPort>;

/** Server: one listener of a Gateway. */
export const server = z.strictObject({
  port: gatewayPort,
  bind: z.string().optional(),
  hosts: z.array(z.string()),
  tls: serverTlsSettings.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});
export type Server = z.infer<typeof server>;

export const gatewaySpec = z.strictObject({
  servers: z.array(server).optional(),
  selector: stringMap().optional(),
});
export type GatewaySpec = z.infer<typeof gatewaySpec>;

const UNIX = 'unix://';

/** The hostname part of a `ns/host` entry (`validateSidecarOrGatewayHostnamePart`, gateway flavour). */
function validateHostPart(host: string, path: FieldPath, ctx: ValidationContext): void {
  if (host !== '*' && !host.includes('.')) ctx.error(path, 'short names (non FQDN) are not allowed');
  const problem = checkHostname(host);
  // A gateway host may also be an IP address.
  if (problem !== null && !isIpAddress(host)) ctx.error(path, problem);
  const partial = checkPartialWildcard(host);
  if (partial !== null) ctx.error(path, partial);
}

/** `ValidateNamespaceSlashWildcardHostname` for gateways: `host` or `ns/host` with ns `*`, `.` or a label. */
function validateGatewayHost(hostname: string, path: FieldPath, ctx: ValidationContext): void {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    validateHostPart(hostname, path, ctx);
    return;
  }
  const ns = hostname.slice(0, slash);
  const host = hostname.slice(slash + 1);
  if (ns === '' || host === '') ctx.error(path, 'config namespace and dnsName in host entry cannot be empty');
  if (ns !== '*' && ns !== '.' && !isIstioDnsLabel(ns))
    ctx.error(path, `invalid namespace value ${JSON.stringify(ns)} in gateway`);
  validateHostPart(host, path, ctx);
}

function validateServer(s: Server, path: FieldPath, ctx: ValidationContext): void {
  if (s.hosts.length === 0) ctx.error([...path, 'hosts'], 'server config must contain at least one host');
  for (const [i, h] of s.hosts.entries()) validateGatewayHost(h, [...path, 'hosts', i], ctx);

  const bind = s.bind ?? '';
  const proto = parseProtocol(s.port.protocol);
  let portOk = true;
  const portError = (field: string, msg: string): void => {
    portOk = false;
    ctx.error([...path, 'port', field], msg);
  };
  if (proto === 'Unsupported') {
    portError(
      'protocol',
      `invalid protocol ${JSON.stringify(s.port.protocol)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`,
    );
  }
  if (s.port.number > 0 || !bind.startsWith(UNIX)) {
    const problem = checkPort(s.port.number);
    if (problem !== null) portError('number', problem);
  }
  if ((s.port.targetPort ?? 0) > 0) portError('targetPort', 'targetPort has no impact on Gateways');
  if (s.port.name === '') portError('name', 'port name must be set');

  if (bind.startsWith(UNIX)) {
    const problem = checkUnixAddress(bind.slice(UNIX.length));
    if (problem !== null) ctx.error([...path, 'bind'], problem);
    if (s.port.number !== 0) ctx.error([...path, 'bind'], 'port number must be 0 for unix domain socket');
  } else if (bind !== '' && !isIpAddress(bind)) {
    ctx.error([...path, 'bind'], `${bind} is not a valid IP`);
  }
  validateServerTls(s.tls, [...path, 'tls'], ctx);

  if (!portOk) return;
  if (isTlsProtocol(proto) && s.tls === undefined) {
    ctx.error(path, 'server must have TLS settings for HTTPS/TLS protocols');
  } else if (!isTlsProtocol(proto) && s.tls !== undefined) {
    const tls = s.tls;
    const mode = tls.mode ?? 'PASSTHROUGH';
    const passthrough = mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH';
    // A plain HTTP server may carry `tls` only for `httpsRedirect`.
    if (isHttpProtocol(proto)) {
      const certs = [tls.caCertificates, tls.privateKey, tls.serverCertificate].some(
        (v) => v !== undefined && v !== '',
      );
      if (!passthrough || certs)
        ctx.error([...path, 'tls'], 'server cannot have TLS settings for plain text HTTP ports');
    } else {
      ctx.error([...path, 'tls'], 'server cannot have TLS settings for non HTTPS/TLS ports');
    }
  }
}

/** Cross-field webhook rules of a Gateway (`ValidateGateway`). The DNS-label rule on the Gateway's own name needs metadata and is the loader's. */
export function validateGateway(spec: GatewaySpec, ctx: ValidationContext): void {
  const servers = spec.servers ?? [];
  if (servers.length === 0) ctx.error(['spec', 'servers'], 'gateway must have at least one server');
  for (const [i, s] of servers.entries()) validateServer(s, ['spec', 'servers', i], ctx);
  const names = new Set<string>();
  for (const [i, s] of servers.entries()) {
    if (names.has(s.port.name)) {
      ctx.error(
        ['spec', 'servers', i, 'port', 'name'],
        `port names in servers must be unique: duplicate name ${s.port.name}`,
      );
    }
    names.add(s.port.name);
    if (!isHttpProtocol(parseProtocol(s.port.protocol)) && s.tls?.httpsRedirect === true) {
      ctx.warn(
        ['spec', 'servers', i, 'tls', 'httpsRedirect'],
        'tls.httpsRedirect should only be used with http servers',
      );
    }
  }
}
