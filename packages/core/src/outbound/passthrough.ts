import type { Readable } from 'node:stream';
import { UNLIMITED } from '../compile/traffic-policy.js';
import type { Transport } from './transport.js';
import { TransportError } from './transport.js';
import type { CallState } from './call-state.js';
import type { HeaderRecord, Target } from './request-input.js';
import { transportFailureReply, localReply, type LocalReply } from './local-reply.js';
import { bodyStreamError } from './request-body.js';

/** Istio's passthrough / black-hole cluster names (meshConfig `outboundTrafficPolicy`). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

/** The response an upstream gave. */
export interface UpstreamResult {
  readonly kind: 'upstream';
  readonly status: number;
  readonly headers: Readonly<HeaderRecord>;
  readonly body: Readable;
}

/** What a direct call produced. */
export type DirectResult = UpstreamResult | { readonly kind: 'local'; readonly reply: LocalReply };

/**
 * `REGISTRY_ONLY`: a host the registry does not know is answered `502` by the
 * `block_all` virtual host (Istio BlackHoleCluster); Envoy sets no response flag.
 */
export function blackHole(state: CallState): LocalReply {
  state.route = 'block_all';
  return localReply(502, '', null);
}

/**
 * `ALLOW_ANY` (the `allow_any` route to PassthroughCluster), and non-HTTP service
 * ports: the call goes straight to the URL's host — no routing, retries or
 * timeouts beyond the caller's own — as a sidecar's original-destination cluster does.
 */
export async function sendDirect(
  transport: Transport,
  state: CallState,
  target: Target,
  cluster: string,
  method: string,
  headers: HeaderRecord,
  body: Buffer | Readable | null,
  signal: AbortSignal | null,
): Promise<DirectResult> {
  if (cluster === PASSTHROUGH_CLUSTER) state.route = 'allow_any';
  headers['host'] = target.authority;
  state.attempts = 1;
  try {
    const res = await transport.request({
      url: target.url,
      method,
      headers,
      body,
      signal,
      connectTimeoutMs: 10_000,
      tls: null,
      poolKey: `${cluster}|${target.hostname}:${target.port}`,
      pool: { maxConnections: UNLIMITED, maxRequestsPerConnection: 0, idleTimeoutMs: 3_600_000 },
    });
    state.upstream = {
      host: target.hostname,
      subset: null,
      address: `${target.hostname}:${target.port}`,
      cluster,
    };
    state.upstreamLocalAddress = res.localAddress ?? null;
    state.upstreamConnection = res.connection ?? null;
    return { kind: 'upstream', status: res.status, headers: res.headers, body: res.body };
  } catch (err) {
    if (signal !== null && signal.aborted) throw signal.reason;
    if (body !== null && !Buffer.isBuffer(body)) {
      const bodyErr = bodyStreamError(body, err);
      if (bodyErr !== null) throw bodyErr;
    }
    const f = err instanceof TransportError ? err.failure : 'reset';
    const reason = err instanceof TransportError ? err.transportFailureReason : null;
    return { kind: 'local', reply: transportFailureReply(f === 'aborted' ? 'reset' : f, reason) };
  }
}
