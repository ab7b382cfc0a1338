import { parseGoBool } from '../config/validate/go-bool.js';
import { isIP } from 'node:net';
import { goQuote } from './go-format.js';

/**
 * The value checks istio's sidecar injector applies to its annotations
 * (istio pkg/kube/inject/validate.go `AnnotationValidation`), with Go's error
 * texts: each returns the problem, or null when the value is accepted.
 */
type Check = (value: string) => string | null;

/** Go `strconv.ParseUint(s, 10, bits)`. */
function parseUint(s: string, bits: number): string | null {
  if (!/^[0-9]+$/.test(s)) return `strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`;
  if (BigInt(s) >= 1n << BigInt(bits)) return `strconv.ParseUint: parsing ${goQuote(s)}: value out of range`;
  return null;
}

const uint32: Check = (v) => parseUint(v, 32);

const bool: Check = (v) =>
  parseGoBool(v) !== null ? null : `strconv.ParseBool: parsing ${goQuote(v)}: invalid syntax`;

/** istio inject `parsePort`: a trimmed uint16. */
function port(s: string): string | null {
  const e = parseUint(s.trim(), 16);
  return e === null ? null : `failed parsing port '${s}': ${e}`;
}

/** istio inject `parsePorts` under `validatePortList`: a comma list of ports, '' allowed. */
function portList(name: string): Check {
  return (value) => {
    const trimmed = value.trim();
    if (trimmed === '') return null;
    for (const p of trimmed.split(',')) {
      const e = port(p);
      if (e !== null) return `${name} invalid: failed parsing port '${p}': ${e}`;
    }
    return null;
  };
}

/** Go `netip.ParsePrefix`, error texts as Go's (a bad address is `unable to parse IP`). */
function parsePrefix(s: string): string | null {
  const fail = (msg: string) => `netip.ParsePrefix(${goQuote(s)}): ${msg}`;
  const i = s.lastIndexOf('/');
  if (i < 0) return fail("no '/'");
  const ip = s.slice(0, i);
  const family = isIP(ip);
  if (family === 0) return fail(`ParseAddr(${goQuote(ip)}): unable to parse IP`);
  const bits = s.slice(i + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(bits)) return fail(`bad bits after slash: ${goQuote(bits)}`);
  if (Number(bits) > (family === 4 ? 32 : 128)) return fail('prefix length out of range');
  return null;
}

function cidrList(value: string): string | null {
  if (value === '') return null;
  for (const cidr of value.split(',')) {
    const e = parsePrefix(cidr);
    if (e !== null) return `failed parsing cidr '${cidr}': ${e}`;
  }
  return null;
}

const includeIpRanges: Check = (v) => {
  const e = v === '*' ? null : cidrList(v);
  return e === null ? null : `includeIPRanges invalid: ${e}`;
};

const excludeIpRanges: Check = (v) => {
  const e = cidrList(v);
  return e === null ? null : `excludeIPRanges invalid: ${e}`;
};

const includeInboundPorts: Check = (v) => (v === '*' ? null : portList('includeInboundPorts')(v));

/** istio `validateStatusPort` (its error does say excludeInboundPorts). */
const statusPort: Check = (v) => {
  const e = port(v);
  return e === null ? null : `excludeInboundPorts invalid: ${e}`;
};

const interceptionMode: Check = (v) =>
  v === 'REDIRECT' || v === 'TPROXY' || v === 'NONE'
    ? null
    : `interceptionMode invalid, use REDIRECT,TPROXY,NONE: ${v}`;

/** istio pkg/util/net `ValidateInterfaceNames`. */
const interfaceNames: Check = (v) => {
  if (v === '') return null;
  for (const raw of v.split(',')) {
    const name = raw.trim();
    if (name === '') return 'empty interface name';
    if (name.length > 15) return `interface name ${goQuote(name)} too long (max 15 chars)`;
    if (!/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(name))
      return `interface name ${goQuote(name)} contains invalid characters`;
  }
  return null;
};

const QUANTITY_FORMAT =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const QUANTITY_SUFFIXES = new Set([
  '',
  'Ki',
  'Mi',
  'Gi',
  'Ti',
  'Pi',
  'Ei',
  'n',
  'u',
  'm',
  'k',
  'M',
  'G',
  'T',
  'P',
  'E',
]);

/** istio `validateResourceQuantity`: Kubernetes `resource.ParseQuantity`. */
const quantity: Check = (v) => {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) return 'value contains control characters';
  const m = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/.exec(v);
  if (m === null) return QUANTITY_FORMAT;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$/.test(m[1] ?? '')) return QUANTITY_FORMAT;
  const suffix = m[2] ?? '';
  if (!QUANTITY_SUFFIXES.has(suffix) && !/^[eE][-+]?[0-9]+$/.test(suffix))
    return "unable to parse quantity's suffix";
  return null;
};

/**
 * Annotation name -> value check. `proxy.istio.io/config` (a whole ProxyConfig,
 * validated by istio's agent validation) is not checked here.
 */
export const ANNOTATION_CHECKS: ReadonlyMap<string, Check> = new Map([
  ['sidecar.istio.io/interceptionMode', interceptionMode],
  ['status.sidecar.istio.io/port', statusPort],
  ['readiness.status.sidecar.istio.io/initialDelaySeconds', uint32],
  ['readiness.status.sidecar.istio.io/periodSeconds', uint32],
  ['readiness.status.sidecar.istio.io/failureThreshold', uint32],
  ['traffic.sidecar.istio.io/includeOutboundIPRanges', includeIpRanges],
  ['traffic.sidecar.istio.io/excludeOutboundIPRanges', excludeIpRanges],
  ['traffic.sidecar.istio.io/includeInboundPorts', includeInboundPorts],
  ['traffic.sidecar.istio.io/excludeInboundPorts', portList('excludeInboundPorts')],
  ['traffic.sidecar.istio.io/excludeOutboundPorts', portList('excludeOutboundPorts')],
  ['traffic.sidecar.istio.io/excludeInterfaces', interfaceNames],
  ['traffic.sidecar.istio.io/kubevirtInterfaces', interfaceNames],
  ['istio.io/reroute-virtual-interfaces', interfaceNames],
  ['prometheus.istio.io/merge-metrics', bool],
  ['sidecar.istio.io/proxyCPU', quantity],
  ['sidecar.istio.io/proxyMemory', quantity],
  ['sidecar.istio.io/proxyCPULimit', quantity],
  ['sidecar.istio.io/proxyMemoryLimit', quantity],
]);
