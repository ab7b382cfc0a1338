import type { FieldPath } from '../diagnostic.js';
import {
  fields,
  readList,
  readObject,
  readString,
  readUint32,
  type Problem,
  type Reader,
} from './local-rate-limit-read.js';

/**
 * A cluster an EnvoyFilter `CLUSTER` `ADD` patch defines (envoy api/envoy/config/cluster/v3/cluster.proto),
 * as far as a rate limit filter's `envoy_grpc.cluster_name` can name it: its name and the
 * endpoints of its `load_assignment`. Such a cluster is plaintext unless it has a
 * `transport_socket`, which meshlet does not build (warned; the cluster is left out).
 */
export interface PatchedCluster {
  readonly name: string;
  readonly endpoints: readonly { readonly address: string; readonly port: number }[];
}

const CLUSTER_FIELDS = [
  'name',
  'type',
  'connect_timeout',
  'lb_policy',
  'load_assignment',
  'http2_protocol_options',
  'typed_extension_protocol_options',
  'transport_socket',
  'dns_lookup_family',
  'circuit_breakers',
  'common_lb_config',
];

/** Reads the patch value; null when it names no usable cluster (the problems say why). */
export function readPatchedCluster(r: Reader, v: unknown, path: FieldPath): PatchedCluster | null {
  const obj = readObject(r, v, path);
  if (obj === null) return null;
  const f = fields(r, obj, path, CLUSTER_FIELDS);
  const n = f.get('name');
  if (n === undefined) {
    r.errors.push({ path: [...path, 'name'], message: 'Required value: a cluster name is required' });
    return null;
  }
  const name = readString(r, n[0], n[1], true);
  const ts = f.get('transport_socket');
  if (ts !== undefined) {
    r.warnings.push({
      path: ts[1],
      message: `a transport_socket on a patched cluster is not supported by meshlet; cluster ${name} is not created`,
    });
    return null;
  }
  const t = f.get('type');
  if (t !== undefined) {
    const type = readString(r, t[0], t[1]);
    if (!['STATIC', 'STRICT_DNS', 'LOGICAL_DNS'].includes(type)) {
      r.warnings.push({
        path: t[1],
        message: `cluster type ${type} is not supported by meshlet (STATIC, STRICT_DNS and LOGICAL_DNS are); cluster ${name} is not created`,
      });
      return null;
    }
  }
  const la = f.get('load_assignment');
  if (la === undefined) {
    r.warnings.push({
      path,
      message: `cluster ${name} has no load_assignment, so meshlet has no endpoint to send to; it is not created`,
    });
    return null;
  }
  const endpoints: { address: string; port: number }[] = [];
  const assignment = readObject(r, la[0], la[1]);
  const af =
    assignment === null ? null : fields(r, assignment, la[1], ['cluster_name', 'endpoints', 'policy']);
  const eps = af?.get('endpoints');
  if (eps !== undefined)
    readList(r, eps[0], eps[1]).forEach((locality, i) => {
      const lp: FieldPath = [...eps[1], i];
      const lo = readObject(r, locality, lp);
      if (lo === null) return;
      const lf = fields(r, lo, lp, ['locality', 'lb_endpoints', 'load_balancing_weight', 'priority']);
      const lbs = lf.get('lb_endpoints');
      if (lbs === undefined) return;
      readList(r, lbs[0], lbs[1]).forEach((lb, j) => {
        const ep = socketAddress(r, lb, [...lbs[1], j]);
        if (ep !== null) endpoints.push(ep);
      });
    });
  if (endpoints.length === 0) {
    r.warnings.push({
      path: la[1],
      message: `cluster ${name} has no endpoint address meshlet can read; it is not created`,
    });
    return null;
  }
  return { name, endpoints };
}

/** `lb_endpoints[].endpoint.address.socket_address` `{ address, port_value }`. */
function socketAddress(r: Reader, v: unknown, path: FieldPath): { address: string; port: number } | null {
  const lb = readObject(r, v, path);
  if (lb === null) return null;
  const lf = fields(r, lb, path, ['endpoint', 'health_status', 'metadata', 'load_balancing_weight']);
  const e = lf.get('endpoint');
  const endpoint = e === undefined ? null : readObject(r, e[0], e[1]);
  if (endpoint === null || e === undefined) return null;
  const a = fields(r, endpoint, e[1], ['address', 'hostname', 'health_check_config']).get('address');
  const address = a === undefined ? null : readObject(r, a[0], a[1]);
  if (address === null || a === undefined) return null;
  const s = fields(r, address, a[1], ['socket_address', 'pipe', 'envoy_internal_address']).get(
    'socket_address',
  );
  const socket = s === undefined ? null : readObject(r, s[0], s[1]);
  if (socket === null || s === undefined) {
    r.warnings.push({
      path: a[1],
      message: 'only socket_address endpoints are supported by meshlet; this endpoint is ignored',
    });
    return null;
  }
  const sf = fields(r, socket, s[1], [
    'address',
    'port_value',
    'protocol',
    'resolver_name',
    'ipv4_compat',
    'named_port',
  ]);
  const host = sf.get('address');
  const port = sf.get('port_value');
  if (host === undefined || port === undefined) {
    r.errors.push({ path: s[1], message: 'Required value: socket_address needs address and port_value' });
    return null;
  }
  return { address: readString(r, host[0], host[1], true), port: readUint32(r, port[0], port[1]) };
}

export type { Problem };
