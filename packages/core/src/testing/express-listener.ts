import { IncomingMessage, ServerResponse } from 'node:http';
import type { ExpressLike } from './types.js';
import type { RequestListener } from './app-listener.js';

interface ExpressApp {
  readonly request: object;
  readonly response: object;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

/** A copy of `proto`'s chain down to `stop` (exclusive), on top of `base`. */
function rebased(proto: object, stop: object, base: object): object {
  const chain: object[] = [];
  for (
    let p: object | null = proto;
    p !== null && p !== stop && p !== Object.prototype;
    p = Object.getPrototypeOf(p) as object | null
  )
    chain.push(p);
  const out = Object.create(base) as object;
  for (const p of chain.reverse()) Object.defineProperties(out, Object.getOwnPropertyDescriptors(p));
  return out;
}

/**
 * An Express app served on the mock network's in-memory requests. Express sets the
 * prototype of every request and response to its own (`app.handle`), which would drop
 * the in-memory request and response's methods (light-my-request's body and output
 * capture), so the app is dispatched through a view of it whose `request` and `response`
 * carry Express's methods on top of the in-memory ones. The user's app is not changed.
 * An Express sub-app mounted with `app.use` swaps the prototypes again and is not served.
 */
export function expressListener(app: ExpressLike): RequestListener {
  const express = app as unknown as ExpressApp;
  let view: ExpressApp | null = null;
  return (req, res) => {
    view ??= Object.assign(Object.create(express) as ExpressApp, {
      request: rebased(express.request, IncomingMessage.prototype, Object.getPrototypeOf(req) as object),
      response: rebased(express.response, ServerResponse.prototype, Object.getPrototypeOf(res) as object),
    });
    view.handle(req, res);
  };
}
