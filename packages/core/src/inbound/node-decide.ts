import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InboundDecision, InboundRequest } from './engine-types.js';
import { decideThen, type InboundHandle, type InboundObservation } from './handle.js';
import { toInboundRequestVia } from './node-request.js';

/**
 * What every node-based adapter does with a request: translate it, start its telemetry
 * (before the decision, so a denied request is measured and traced too), decide in
 * the request's context (`decideThen`: in the same tick when nothing waits) and tell the telemetry the
 * decision. `onDecision` also gets the observation, so the adapter can run the rest of
 * the request in its context. A throw while translating or observing, and a failed
 * decision, go to `onError`. `url` replaces the request target (Express below a mount
 * path, where `req.url` lost its prefix); a gateway gives `gatewayRoute`.
 */
export function decideNodeRequest(
  handle: InboundHandle,
  req: IncomingMessage,
  res: ServerResponse,
  onDecision: (decision: InboundDecision, observation: InboundObservation | null) => void,
  onError: (error: unknown) => void,
  url?: string,
  gatewayRoute?: InboundRequest['gatewayRoute'],
): void {
  let observation: InboundObservation | null = null;
  let inbound: InboundRequest;
  try {
    const node = toInboundRequestVia(req, handle);
    inbound = url === undefined || url === node.url ? node : { ...node, url };
    if (gatewayRoute !== undefined) inbound = { ...inbound, gatewayRoute };
    if (handle.observe !== undefined) observation = handle.observe(req, res, inbound);
  } catch (error) {
    onError(error);
    return;
  }
  const decide = (): void =>
    decideThen(
      handle,
      inbound,
      (decision) => {
        observation?.decided(decision);
        onDecision(decision, observation);
      },
      onError,
    );
  // The decision runs in the request's context too: a CUSTOM check's span is a child of
  // the request's span, as Envoy's ext_authz async client makes it.
  if (observation === null) decide();
  else observation.run(decide);
}
