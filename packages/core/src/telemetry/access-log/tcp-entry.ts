import type { AccessLogEntry } from './entry.js';

/** The fields of a TCP connection's entry that have no request to come from. */
type NoRequest =
  | 'method'
  | 'path'
  | 'authority'
  | 'protocol'
  | 'responseCode'
  | 'responseCodeDetails'
  | 'requestHeaders'
  | 'responseHeaders'
  | 'routeName';

/**
 * The access log entry of a proxied TCP connection, as tcp_proxy's access log writes one: no
 * request, so method, path and protocol print `-`, the response code `0`, and no route.
 */
export function tcpEntry(fields: Omit<AccessLogEntry, NoRequest>): AccessLogEntry {
  return {
    ...fields,
    method: null,
    path: null,
    authority: null,
    protocol: null,
    responseCode: 0,
    responseCodeDetails: null,
    requestHeaders: {},
    responseHeaders: {},
    routeName: null,
  };
}
