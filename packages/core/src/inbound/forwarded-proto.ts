import type { MeshPlan } from '../compile/plan-types.js';
import type { InboundRequest } from './engine-types.js';
import { copyHeaders } from './node-request.js';

export const FORWARDED_PROTO = 'x-forwarded-proto';

/** What the connection manager makes of a request's x-forwarded-proto and `:scheme`. */
export interface ForwardedProto {
  /** The header it sets (the connection's scheme), or null when it keeps the request's. */
  readonly set: 'http' | 'https' | null;
  /** `:scheme`: a valid x-forwarded-proto, else the connection's. */
  readonly scheme: 'http' | 'https';
}

/**
 * The x-forwarded-proto the connection manager gives a request before any filter runs
 * (envoy conn_manager_utility.cc mutateRequestHeaders): the scheme of the downstream
 * connection (`https` over TLS, mTLS included). A gateway's listener uses the remote address
 * and overwrites the client's unless it trusts proxies in front of it; a sidecar's inbound
 * one does not (listener_inbound.go), and sets it only when the request has none. The
 * request's `:scheme` then follows a valid x-forwarded-proto (getScheme), as jwt_authn's
 * realm and ext_authz's check read it.
 */
export function forwardedProtoOf(req: InboundRequest, plan: MeshPlan): ForwardedProto {
  const connection = req.scheme;
  const sent = req.headers[FORWARDED_PROTO];
  const overwrite = plan.inbound.gateway && plan.meshConfig.numTrustedProxies === 0;
  if (sent === undefined || overwrite) return { set: connection, scheme: connection };
  const value = (typeof sent === 'string' ? sent : sent.join(',')).toLowerCase();
  return { set: null, scheme: value === 'http' || value === 'https' ? value : connection };
}

/** `req` as the filters see it: the connection manager's x-forwarded-proto and `:scheme`. */
export function withForwardedProto(req: InboundRequest, proto: ForwardedProto): InboundRequest {
  if (proto.set === null) return proto.scheme === req.scheme ? req : { ...req, scheme: proto.scheme };
  const headers = copyHeaders(req.headers);
  headers[FORWARDED_PROTO] = proto.set;
  return { ...req, headers, scheme: proto.scheme };
}
