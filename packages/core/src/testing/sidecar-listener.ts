import type { InboundHandle } from '../inbound/handle.js';
import { decideNodeRequest } from '../inbound/node-decide.js';
import { writeDenial } from '../inbound/node-deny.js';
import { admitNodeRequest } from '../inbound/node-headers.js';
import type { RequestListener } from './app-listener.js';

/**
 * A mock instance's sidecar: the inbound decision (PeerAuthentication identity,
 * RequestAuthentication, AuthorizationPolicy, local rate limits) with its telemetry, then
 * the application with the normalized URL, the header edits, and the request's context
 * (`req.meshlet` for a mock handler). What `@meshlet/express` does in front of an app.
 */
export function sidecarListener(handle: InboundHandle, app: RequestListener): RequestListener {
  return (req, res) => {
    decideNodeRequest(
      handle,
      req,
      res,
      (decision, observation) => {
        if (!decision.allow) {
          writeDenial(res, decision);
          return;
        }
        req.url = decision.url;
        admitNodeRequest(handle, req, res, decision);
        if (observation === null) app(req, res);
        else observation.run(() => app(req, res));
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(err instanceof Error ? err.message : String(err));
      },
    );
  };
}
