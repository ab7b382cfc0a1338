import type { MetricEvent } from '../metrics/metric-event.js';
import { grpcResponseStatus } from '../metrics/grpc-status.js';
import { queryOf, urlPathOf } from './address.js';
import { HeaderMap, type Activation } from './attributes.js';
import { responseFlagBits } from './response-flags.js';
import { durationOfMs } from './time.js';
import { entryActivation } from './entry-activation.js';
import { LiteralMap, type CelValue } from './values.js';
import { UNKNOWN, type PeerLabels } from '../peer-labels.js';

const NO_HEADERS: NonNullable<MetricEvent['headers']> = Object.freeze({});

function header(e: MetricEvent, name: string): string | undefined {
  const v = e.headers?.[name];
  return v === undefined || typeof v === 'string' ? v : v.join(',');
}

const REQUEST_PSEUDO = [':method', ':path', ':authority'];

const host = (e: MetricEvent) => header(e, ':authority') ?? header(e, 'host');

/** Envoy's protocol strings (http/utility.cc getProtocolString). */
function protocol(version: string | undefined): string {
  switch (version) {
    case '1.0':
      return 'HTTP/1.0';
    case '2':
    case '2.0':
      return 'HTTP/2';
    case '3':
    case '3.0':
      return 'HTTP/3';
    default:
      return 'HTTP/1.1';
  }
}

function grpcStatus(e: MetricEvent): CelValue | undefined {
  if (e.protocol === 'grpc') {
    const s = e.grpcStatus;
    if (s === null || s === undefined || s === '') return undefined;
    return typeof s === 'number' ? BigInt(s) : /^-?\d+$/.test(s) ? BigInt(s) : undefined;
  }
  // Not gRPC: Envoy's getGrpcStatus infers the code from the HTTP status.
  const s = grpcResponseStatus(undefined, e.status);
  return s === null ? undefined : BigInt(s);
}

/**
 * A peer as its metadata object reads in CEL (istio/proxy metadata_object.cc
 * serializeAsProto): only the fields known, none for a peer nothing is known about.
 */
function peerObject(p: PeerLabels): CelValue | undefined {
  if (PEER_OBJECTS.has(p)) return PEER_OBJECTS.get(p);
  const v = buildPeerObject(p);
  PEER_OBJECTS.set(p, v);
  return v;
}

/** Peer labels are built once per peer and reused, so their CEL objects are too. */
const PEER_OBJECTS = new WeakMap<PeerLabels, CelValue | undefined>();

function buildPeerObject(p: PeerLabels): CelValue | undefined {
  if (p.workload === UNKNOWN && p.namespace === UNKNOWN) return undefined;
  const m = new LiteralMap();
  const put = (k: string, v: string) => {
    if (v !== UNKNOWN && v !== '') m.set(k, v);
  };
  put('workload', p.workload);
  put('namespace', p.namespace);
  put('cluster', p.cluster);
  put('service', p.canonicalService);
  put('revision', p.canonicalRevision);
  put('app', p.app);
  put('version', p.version);
  return m;
}

function field(e: MetricEvent, root: string, name: string): CelValue | undefined {
  if (root === 'request') {
    switch (name) {
      case 'path':
        return e.path;
      case 'url_path':
        return e.path === undefined ? undefined : urlPathOf(e.path);
      case 'host':
        return host(e);
      case 'method':
        return e.method;
      case 'headers':
        return new HeaderMap(e.headers ?? NO_HEADERS, {
          names: REQUEST_PSEUDO,
          get: (n) => (n === ':method' ? e.method : n === ':path' ? e.path : host(e)),
        });
      case 'referer':
        return header(e, 'referer');
      case 'useragent':
        return header(e, 'user-agent');
      case 'id':
        return header(e, 'x-request-id');
      case 'query':
        return e.path === undefined ? undefined : queryOf(e.path);
      case 'duration':
        return durationOfMs(e.durationMs);
      case 'protocol':
        return protocol(e.httpVersion);
      default:
        return undefined;
    }
  }
  if (root === 'response') {
    switch (name) {
      case 'code':
        return e.status === 0 ? undefined : BigInt(e.status);
      case 'flags':
        return responseFlagBits(e.flags);
      case 'grpc_status':
        return grpcStatus(e);
      default:
        return undefined;
    }
  }
  // The downstream connection: mTLS on the server; the app's plaintext one on the client.
  if (root === 'connection' && name === 'mtls') return e.reporter === 'destination' && e.mtls;
  if (root === 'destination' && name === 'port') return BigInt(e.port);
  // The listener the request came through: the virtual inbound one on the server, the
  // outbound one on the client (istiod's traffic_direction; TrafficDirection INBOUND 1, OUTBOUND 2).
  if (root === 'xds' && name === 'listener_direction') return e.reporter === 'destination' ? 1n : 2n;
  // Peer metadata: the caller on the server (downstream), the callee on the client (upstream).
  if (root === 'filter_state') {
    if (name === 'downstream_peer') return e.reporter === 'destination' ? peerObject(e.source) : undefined;
    if (name === 'upstream_peer') return e.reporter === 'source' ? peerObject(e.destination) : undefined;
  }
  return undefined;
}

/** What the event answers itself; every other attribute comes from its access-log entry. */
const OWN: Readonly<Record<string, ReadonlySet<string>>> = {
  request: new Set([
    'path',
    'url_path',
    'host',
    'method',
    'headers',
    'referer',
    'useragent',
    'id',
    'query',
    'duration',
    'protocol',
  ]),
  response: new Set(['code', 'flags', 'grpc_status']),
  connection: new Set(['mtls']),
  destination: new Set(['port']),
  xds: new Set(['listener_direction']),
  filter_state: new Set(['downstream_peer', 'upstream_peer']),
};

/**
 * The attributes of one metric event, each computed only when an expression reads it. An
 * attribute the event does not carry is read from the request's access-log entry, built on
 * the first such read: istio_stats and the access log read the same stream info.
 */
export function eventActivation(event: MetricEvent): Activation {
  let fromEntry: Activation | null = null;
  return {
    field: (root, name) => {
      if (OWN[root]?.has(name) === true || event.entry === undefined) return field(event, root, name);
      fromEntry ??= entryActivation(event.entry());
      return fromEntry.field(root, name);
    },
  };
}
