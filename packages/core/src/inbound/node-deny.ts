import type { ServerResponse } from 'node:http';
import type { InboundDecision } from './engine-types.js';
import { isUpgradeRequest } from './normalize/upgrade-check.js';

/**
 * Answer a refused request with the decision's status, headers and body (`403 RBAC:
 * access denied`, `401 Jwt is missing`, `429 local_rate_limited`), as Envoy's filter
 * sends its local reply: plain text unless the decision names another type. A refused
 * upgrade request's connection closes after it.
 */
export function writeDenial(res: ServerResponse, decision: Extract<InboundDecision, { allow: false }>): void {
  // An upgrade request refused: its connection closes after the reply (isUpgradeRequest).
  if (isUpgradeRequest(res.req.headers)) res.shouldKeepAlive = false;
  res.statusCode = decision.status;
  for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', Buffer.byteLength(decision.body));
  res.end(decision.body);
}
