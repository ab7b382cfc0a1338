import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { declaresBody } from './request-body.js';

/** The header Envoy's router adds to every response it got from its upstream. */
export const UPSTREAM_SERVICE_TIME = 'x-envoy-upstream-service-time';

type HeaderList = OutgoingHttpHeaders | readonly (string | number | readonly string[])[];
/** `writeHead` without its overloads: (status, reason?, headers?) or (status, headers?). */
type WriteHead = (
  this: ServerResponse,
  statusCode: number,
  reasonOrHeaders?: string | HeaderList,
  headers?: HeaderList,
) => ServerResponse;

/** `headers` with the upstream time added last, without touching the caller's object or array. */
function withTime(headers: HeaderList, value: string): HeaderList {
  if (Array.isArray(headers))
    // writeHead takes a flat [name, value, ...] list.
    return [...(headers as readonly (string | number | readonly string[])[]), UPSTREAM_SERVICE_TIME, value];
  // Not `{ ...headers, [name]: value }`: a computed key in a literal is a V8 runtime call
  // that built a new hidden class per response (~6,000 instructions a request here).
  const copy: OutgoingHttpHeaders = Object.assign({}, headers as OutgoingHttpHeaders);
  copy[UPSTREAM_SERVICE_TIME] = value;
  return copy;
}

/**
 * The request is handed to the application, the inbound sidecar's upstream. Envoy's
 * router reports, as `x-envoy-upstream-service-time` on the response it returns, the
 * whole milliseconds from the end of the downstream request (its last body byte) to the
 * upstream's response headers, and sends none when the response came before the request
 * was complete (router.cc onUpstreamHeaders, `downstream_request_complete_time_`;
 * spec/traffic.md "Headers"). Istio's access log prints it as
 * %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%. A request the mesh refuses never reaches the
 * application, so it gets none. The header replaces one the application set itself
 * (by `setHeader`, or lower-case in `writeHead`'s headers), as the router's does.
 *
 * A request without a body is complete now. One with a body is complete when the
 * application has read it to the end (`end`), which is when it arrived for a body parser.
 * Every way a response's headers go out passes through `writeHead` (node's implicit
 * header calls it too), so this one response's `writeHead` adds the header first.
 */
export function stampUpstreamServiceTime(res: ServerResponse, now: () => number): void {
  if (res.headersSent) return;
  const req = (res as { req?: IncomingMessage }).req;
  let start: number;
  if (req !== undefined && declaresBody(req.headers) && !req.readableEnded) {
    start = Number.NaN;
    req.once('end', () => {
      start = now();
    });
  } else start = now();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the response as `this`
  const writeHead = res.writeHead as unknown as WriteHead;
  const stamped: WriteHead = function writeHeadWithUpstreamTime(statusCode, reasonOrHeaders, headers) {
    // Already sent, or a premature response: node's writeHead alone.
    if (this.headersSent || Number.isNaN(start))
      return writeHead.call(this, statusCode, reasonOrHeaders, headers);
    const value = String(Math.round(now() - start));
    if (typeof reasonOrHeaders === 'string') {
      if (headers === undefined) {
        this.setHeader(UPSTREAM_SERVICE_TIME, value);
        return writeHead.call(this, statusCode, reasonOrHeaders);
      }
      return writeHead.call(this, statusCode, reasonOrHeaders, withTime(headers, value));
    }
    if (reasonOrHeaders === undefined || reasonOrHeaders === null) {
      this.setHeader(UPSTREAM_SERVICE_TIME, value);
      return writeHead.call(this, statusCode);
    }
    return writeHead.call(this, statusCode, withTime(reasonOrHeaders, value));
  };
  res.writeHead = stamped;
}
