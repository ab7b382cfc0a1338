import type { InboundDecision, InboundRequest } from './engine-types.js';
import { copyHeaders } from './node-request.js';

/**
 * Headers the connection manager sets on a request before any filter runs
 * (`x-forwarded-proto`, `x-forwarded-port`, a repeated `referer` joined): the filters see
 * them, and an allowed request carries them on to the application.
 */
export type ConnectionManagerSets = Record<string, string>;

/** `req` as the later stages see it, with `name` set to `value`. */
export function withRequestHeader(req: InboundRequest, name: string, value: string): InboundRequest {
  const headers = copyHeaders(req.headers);
  headers[name] = value;
  return { ...req, headers };
}

/**
 * An allowed request carries the headers the connection manager set on to the application.
 * `sets` is the request's own record: it becomes the decision's when no stage set a header
 * (the common request), which spares a copy per request.
 */
export function setForApp(d: InboundDecision, sets: ConnectionManagerSets): InboundDecision {
  if (!d.allow) return d;
  const prior = d.setHeaders;
  for (const _ in prior) return { ...d, setHeaders: { ...prior, ...sets } };
  return { ...d, setHeaders: sets };
}
