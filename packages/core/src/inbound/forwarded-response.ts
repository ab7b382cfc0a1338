import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { declaresBody } from './request-body.js';

/** The header Envoy's router adds to every response it got from its upstream. */
export const UPSTREAM_SERVICE_TIME = 'x-envoy-upstream-service-time';

/** The route's tracing operation, which the ingress connection manager answers (`ServerSpan.responseOperation`). */
export const DECORATOR_OPERATION = 'x-envoy-decorator-operation';

/** Where the request's telemetry leaves the operation for its forwarded response (node-observe.ts). */
const kOperation = Symbol('meshlet.responseOperation');
type WithOperation = ServerResponse & { [kOperation]?: string };

/** The operation `res` answers with once forwarded, when its request's telemetry left one. */
export function responseOperationOf(res: ServerResponse): string | undefined {
  return (res as WithOperation)[kOperation];
}

/** The operation `res` answers with once forwarded (see {@link stampForwardedResponse}). */
export function setResponseOperation(res: ServerResponse, operation: string): void {
  (res as WithOperation)[kOperation] = operation;
}

type HeaderList = OutgoingHttpHeaders | readonly (string | number | readonly string[])[];
/** `writeHead` without its overloads: (status, reason?, headers?) or (status, headers?). */
type WriteHead = (
  this: ServerResponse,
  statusCode: number,
  reasonOrHeaders?: string | HeaderList,
  headers?: HeaderList,
) => ServerResponse;

/** The `server` header; an application's `Server` (any case) in writeHead's headers is replaced. */
const SERVER = 'server';

/** What the sidecar adds to a response the application answered. */
export interface ForwardedStamp {
  /** `x-envoy-upstream-service-time` (false under `envoyDebugHeaders.disabled`). */
  readonly upstreamTime: boolean;
  /** The `server` header's value, or null to pass the application's through (`server.disabled`). */
  readonly server: string | null;
}

/** A flat [name, value, ...] list without the application's `server` entries. */
function withoutServer(
  list: readonly (string | number | readonly string[])[],
): (string | number | readonly string[])[] {
  const out: (string | number | readonly string[])[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    if (typeof name === 'string' && name.length === 6 && name.toLowerCase() === SERVER) continue;
    out.push(name as string, list[i + 1] as string);
  }
  return out;
}

/** `headers` with the stamp's headers added last, without touching the caller's object or array. */
function withStamp(
  headers: HeaderList,
  time: string | null,
  server: string | null,
  operation: string | undefined,
): HeaderList {
  if (Array.isArray(headers)) {
    // writeHead takes a flat [name, value, ...] list.
    const list = headers as readonly (string | number | readonly string[])[];
    const out = server === null ? [...list] : withoutServer(list);
    if (time !== null) out.push(UPSTREAM_SERVICE_TIME, time);
    if (operation !== undefined) out.push(DECORATOR_OPERATION, operation);
    if (server !== null) out.push(SERVER, server);
    return out;
  }
  // Not `{ ...headers, [name]: value }`: a computed key in a literal is a V8 runtime call
  // that built a new hidden class per response (~6,000 instructions a request here).
  const copy: OutgoingHttpHeaders = Object.assign({}, headers as OutgoingHttpHeaders);
  if (time !== null) copy[UPSTREAM_SERVICE_TIME] = time;
  if (operation !== undefined) copy[DECORATOR_OPERATION] = operation;
  if (server !== null) {
    for (const name in copy)
      if (name.length === 6 && name !== SERVER && name.toLowerCase() === SERVER) delete copy[name];
    copy[SERVER] = server;
  }
  return copy;
}

/** The stamp's headers by `setHeader`, for a `writeHead` given no headers of its own. */
function setStamp(
  res: ServerResponse,
  time: string | null,
  server: string | null,
  operation: string | undefined,
): void {
  if (time !== null) res.setHeader(UPSTREAM_SERVICE_TIME, time);
  if (operation !== undefined) res.setHeader(DECORATOR_OPERATION, operation);
  if (server !== null) res.setHeader(SERVER, server);
}

/**
 * The request is handed to the application, the inbound sidecar's upstream. The headers
 * the sidecar adds to the response it returns:
 *
 * - Envoy's router reports, as `x-envoy-upstream-service-time`, the whole milliseconds from
 *   the end of the downstream request (its last body byte) to the upstream's response
 *   headers, and sends none when the response came before the request was complete
 *   (router.cc onUpstreamHeaders, `downstream_request_complete_time_`; spec/traffic.md
 *   "Headers"). Istio's access log prints it as %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%.
 * - The connection manager overwrites `server` on every response it encodes, last, after
 *   every filter's header operations (conn_manager_impl.cc ActiveStream::encodeHeaders,
 *   `server_header_transformation: OVERWRITE`; Istio's inbound `server_name` is
 *   `istio-envoy`, pilot/pkg/networking/util/proxy_headers.go).
 * - With tracing configured, the connection manager sets `x-envoy-decorator-operation` to the
 *   route's operation unless the caller named it (conn_manager_impl.cc encodeHeaders), when
 *   the request's telemetry left one ({@link setResponseOperation}).
 *
 * A request the mesh refuses never reaches the application: its local reply gets `server`
 * from the engine and no upstream time. Both headers replace one the application set
 * itself (by `setHeader`, or in `writeHead`'s headers), as Envoy's do.
 *
 * A request without a body is complete now. One with a body is complete when the
 * application has read it to the end (`end`), which is when it arrived for a body parser.
 * Every way a response's headers go out passes through `writeHead` (node's implicit
 * header calls it too), so this one response's `writeHead` adds the headers first.
 */
export function stampForwardedResponse(res: ServerResponse, now: () => number, stamp: ForwardedStamp): void {
  const operation = (res as WithOperation)[kOperation];
  if (res.headersSent || (!stamp.upstreamTime && stamp.server === null && operation === undefined)) return;
  const server = stamp.server;
  const req = (res as { req?: IncomingMessage }).req;
  // NaN: no upstream time (not asked for, or the request is not complete yet).
  let start = Number.NaN;
  if (stamp.upstreamTime) {
    if (req !== undefined && declaresBody(req.headers) && !req.readableEnded) {
      req.once('end', () => {
        start = now();
      });
    } else start = now();
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the response as `this`
  const writeHead = res.writeHead as unknown as WriteHead;
  const stamped: WriteHead = function writeHeadStamped(statusCode, reasonOrHeaders, headers) {
    if (this.headersSent) return writeHead.call(this, statusCode, reasonOrHeaders, headers);
    const time = Number.isNaN(start) ? null : String(Math.round(now() - start));
    // A premature response with the server passed through: node's writeHead alone.
    if (time === null && server === null && operation === undefined)
      return writeHead.call(this, statusCode, reasonOrHeaders, headers);
    if (typeof reasonOrHeaders === 'string') {
      if (headers === undefined) {
        setStamp(this, time, server, operation);
        return writeHead.call(this, statusCode, reasonOrHeaders);
      }
      return writeHead.call(this, statusCode, reasonOrHeaders, withStamp(headers, time, server, operation));
    }
    if (reasonOrHeaders === undefined || reasonOrHeaders === null) {
      setStamp(this, time, server, operation);
      return writeHead.call(this, statusCode);
    }
    return writeHead.call(this, statusCode, withStamp(reasonOrHeaders, time, server, operation));
  };
  res.writeHead = stamped;
}
