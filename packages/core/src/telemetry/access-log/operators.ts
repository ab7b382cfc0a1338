import { hostname } from 'node:os';
import type { AccessLogEntry } from './entry.js';

/** An operator's value: a string, a number (typed in JSON), or null (unset: `-` in TEXT, null in JSON). */
export type OperatorValue = string | number | null;
export type Extractor = (entry: AccessLogEntry) => OperatorValue;

type Headers = AccessLogEntry['requestHeaders'];

function header(headers: Headers, name: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  return typeof v === 'string' ? v : v.join(',');
}

function requestHeader(entry: AccessLogEntry, name: string): string | null {
  switch (name) {
    case ':method':
      return entry.method;
    case ':path':
      return entry.path;
    case ':authority':
      return entry.authority ?? header(entry.requestHeaders, 'host');
    case ':scheme':
      return entry.scheme ?? null;
    default:
      return header(entry.requestHeaders, name);
  }
}

/** `X?Y`: the first header, else the alternative (Envoy's `REQ(X?Y)`). */
function headerPair(arg: string): readonly [string, string | null] {
  const [main, alt] = arg.toLowerCase().split('?');
  return [main ?? '', alt ?? null];
}

function withoutQuery(v: string | null): string | null {
  if (v === null) return null;
  const q = v.indexOf('?');
  return q < 0 ? v : v.slice(0, q);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `%START_TIME(fmt)%`: a strftime subset Envoy users write (%Y %m %d %H %M %S %z %s %f %3f %6f %9f %%). */
function strftime(format: string, ms: number): string {
  const d = new Date(ms);
  return format.replace(/%([369]?f|[YmdHMSzsTF%])/g, (_, spec: string) => {
    switch (spec) {
      case 'Y':
        return String(d.getUTCFullYear());
      case 'm':
        return pad(d.getUTCMonth() + 1);
      case 'd':
        return pad(d.getUTCDate());
      case 'H':
        return pad(d.getUTCHours());
      case 'M':
        return pad(d.getUTCMinutes());
      case 'S':
        return pad(d.getUTCSeconds());
      case 'z':
        return '+0000';
      case 's':
        return String(Math.floor(ms / 1000));
      case 'F':
        return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
      case 'T':
        return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
      case '%':
        return '%';
      default: {
        // %f is nanoseconds (9 digits); %3f / %6f truncate.
        const digits = spec === 'f' ? 9 : Number(spec[0]);
        const nanos = pad(Math.round((((ms % 1000) + 1000) % 1000) * 1e6), 9);
        return nanos.slice(0, digits);
      }
    }
  });
}

const nullIfEmpty = (v: string | null | undefined): string | null =>
  v === undefined || v === null || v === '' ? null : v;
const withoutPort = (v: string | null): string | null =>
  v === null ? null : v.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');

/**
 * Build the extractor of one command operator, or null when meshlet does not know it.
 * Names and meaning: envoy docs `configuration/observability/access_log/usage`.
 */
export function operator(name: string, arg: string | null): Extractor | null {
  switch (name) {
    case 'START_TIME':
      return arg === null || arg === ''
        ? (e) => new Date(e.startTime).toISOString()
        : (e) => strftime(arg, e.startTime);
    case 'REQ':
    case 'REQ_WITHOUT_QUERY':
    case 'RESP': {
      if (arg === null) return null;
      const [main, alt] = headerPair(arg);
      const read =
        name === 'RESP'
          ? (e: AccessLogEntry, h: string) => header(e.responseHeaders, h)
          : (e: AccessLogEntry, h: string) => requestHeader(e, h);
      const get = (e: AccessLogEntry) => read(e, main) ?? (alt === null ? null : read(e, alt));
      return name === 'REQ_WITHOUT_QUERY' ? (e) => withoutQuery(get(e)) : get;
    }
    case 'PROTOCOL':
      return (e) => e.protocol;
    case 'RESPONSE_CODE':
      return (e) => e.responseCode;
    case 'RESPONSE_FLAGS':
      return (e) => (e.responseFlags.length === 0 ? '-' : e.responseFlags.join(','));
    case 'RESPONSE_CODE_DETAILS':
      return (e) => nullIfEmpty(e.responseCodeDetails);
    case 'CONNECTION_TERMINATION_DETAILS':
      return (e) => nullIfEmpty(e.connectionTerminationDetails);
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON':
      return (e) => nullIfEmpty(e.upstreamTransportFailureReason);
    case 'BYTES_RECEIVED':
      return (e) => e.bytesReceived;
    case 'BYTES_SENT':
      return (e) => e.bytesSent;
    case 'DURATION':
      // Envoy truncates to whole milliseconds.
      return (e) => Math.trunc(e.durationMs);
    case 'UPSTREAM_HOST':
      return (e) => nullIfEmpty(e.upstreamHost);
    case 'UPSTREAM_CLUSTER':
    case 'UPSTREAM_CLUSTER_RAW':
      // Istio sets no alt_stat_name by default, so the two print the same cluster name.
      return (e) => nullIfEmpty(e.upstreamCluster);
    case 'UPSTREAM_LOCAL_ADDRESS':
      return (e) => nullIfEmpty(e.upstreamLocalAddress);
    case 'DOWNSTREAM_LOCAL_ADDRESS':
      return (e) => nullIfEmpty(e.downstreamLocalAddress);
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT':
      return (e) => withoutPort(nullIfEmpty(e.downstreamLocalAddress));
    case 'DOWNSTREAM_REMOTE_ADDRESS':
      return (e) => nullIfEmpty(e.downstreamRemoteAddress);
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
      return (e) => withoutPort(nullIfEmpty(e.downstreamRemoteAddress));
    case 'REQUESTED_SERVER_NAME':
      return (e) => nullIfEmpty(e.requestedServerName);
    case 'ROUTE_NAME':
      return (e) => nullIfEmpty(e.routeName);
    case 'UPSTREAM_REQUEST_ATTEMPT_COUNT':
      return (e) => e.attempts ?? 0;
    case 'HOSTNAME': {
      const h = hostname();
      return () => h;
    }
    case 'ENVIRONMENT': {
      if (arg === null) return null;
      // Read once: Envoy resolves ENVIRONMENT when it loads the format.
      const v = nullIfEmpty(process.env[arg]);
      return () => v;
    }
    default:
      return null;
  }
}
