import type { AccessLogEntry } from '../access-log/entry.js';
import { grpcResponseStatus } from '../metrics/grpc-status.js';
import { portOf, queryOf, urlPathOf } from './address.js';
import { HeaderMap, type Activation, type PseudoHeaders } from './attributes.js';
import { responseFlagBits } from './response-flags.js';
import { durationOfMs, timestampOfMs } from './time.js';
import { CelUint, type CelValue } from './values.js';

const orUndefined = <T>(v: T | null | undefined): T | undefined => v ?? undefined;

function header(h: AccessLogEntry['requestHeaders'], name: string): string | undefined {
  const v = h[name];
  return v === undefined || typeof v === 'string' ? v : v.join(',');
}

const REQUEST_PSEUDO = [':method', ':path', ':authority', ':scheme'];

function requestPseudo(e: AccessLogEntry): PseudoHeaders {
  return {
    names: REQUEST_PSEUDO,
    get(name) {
      if (name === ':method') return e.method;
      if (name === ':path') return e.path;
      return name === ':authority' ? e.authority : e.scheme;
    },
  };
}

function requestField(e: AccessLogEntry, name: string): CelValue | undefined {
  switch (name) {
    case 'path':
      return e.path;
    case 'url_path':
      return urlPathOf(e.path);
    case 'host':
      return orUndefined(e.authority);
    case 'scheme':
      return orUndefined(e.scheme);
    case 'method':
      return e.method;
    case 'headers':
      return new HeaderMap(e.requestHeaders, requestPseudo(e));
    case 'referer':
      return header(e.requestHeaders, 'referer');
    case 'useragent':
      return header(e.requestHeaders, 'user-agent');
    case 'id':
      return header(e.requestHeaders, 'x-request-id');
    case 'query':
      return queryOf(e.path);
    case 'time':
      return timestampOfMs(e.startTime);
    case 'duration':
      return durationOfMs(e.durationMs);
    case 'protocol':
      return orUndefined(e.protocol);
    case 'size': {
      // context.cc Size: the Content-Length when sent (missing when malformed), else body bytes.
      const cl = header(e.requestHeaders, 'content-length');
      if (cl === undefined) return BigInt(e.bytesReceived);
      return /^\d+$/.test(cl) ? BigInt(cl) : undefined;
    }
    default:
      return undefined;
  }
}

function responseField(e: AccessLogEntry, name: string): CelValue | undefined {
  switch (name) {
    case 'code':
      return e.responseCode === 0 ? undefined : BigInt(e.responseCode);
    case 'code_details':
      return orUndefined(e.responseCodeDetails);
    case 'flags':
      return responseFlagBits(e.responseFlags);
    case 'grpc_status': {
      const s = grpcResponseStatus(e.responseHeaders['grpc-status'], e.responseCode);
      return s === null ? undefined : BigInt(s);
    }
    case 'headers':
      return new HeaderMap(e.responseHeaders, {
        names: [':status'],
        get: () => (e.responseCode === 0 ? null : String(e.responseCode)),
      });
    case 'size':
      return BigInt(e.bytesSent);
    default:
      return undefined;
  }
}

function field(e: AccessLogEntry, root: string, name: string): CelValue | undefined {
  switch (root) {
    case 'request':
      return requestField(e, name);
    case 'response':
      return responseField(e, name);
    case 'connection':
      if (name === 'requested_server_name') return e.requestedServerName ?? '';
      if (name === 'termination_details') return orUndefined(e.connectionTerminationDetails);
      return undefined;
    case 'upstream':
      switch (name) {
        case 'address':
          return orUndefined(e.upstreamHost);
        case 'port':
          return portOf(e.upstreamHost);
        case 'local_address':
          return orUndefined(e.upstreamLocalAddress);
        case 'transport_failure_reason':
          return e.upstreamHost === null ? undefined : (e.upstreamTransportFailureReason ?? '');
        case 'request_attempt_count':
          return new CelUint(BigInt(e.attempts ?? 0));
        default:
          return undefined;
      }
    case 'source':
      if (name === 'address') return orUndefined(e.downstreamRemoteAddress);
      return name === 'port' ? portOf(e.downstreamRemoteAddress) : undefined;
    case 'destination':
      if (name === 'address') return orUndefined(e.downstreamLocalAddress);
      return name === 'port' ? portOf(e.downstreamLocalAddress) : undefined;
    case 'xds':
      if (name === 'cluster_name') return orUndefined(e.upstreamCluster);
      return name === 'route_name' ? orUndefined(e.routeName) : undefined;
    default:
      return undefined;
  }
}

/** The attributes of one access-log entry, each computed only when an expression reads it. */
export function entryActivation(entry: AccessLogEntry): Activation {
  return { field: (root, name) => field(entry, root, name) };
}
