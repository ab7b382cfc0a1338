import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { UNLIMITED } from '../compile/traffic-policy.js';
import type { Transport, TransportTls } from './transport.js';
import { TransportError } from './transport.js';
import type { CallState } from './call-state.js';
import { sniOf, type HeaderRecord, type Target } from './request-input.js';
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
 * The application's own TLS on an https URL the sidecar passes through (no mesh TLS): the
 * server's chain checked against `ca` and its name against the URL's host, as Node's https
 * does; null (Node's roots, the same checks) when the call gave no `ca`.
 */
function applicationTls(target: Target, ca: string | Buffer | null): TransportTls | null {
  if (ca === null || target.scheme !== 'https') return null;
  return { ca, cert: null, key: null, servername: sniOf(target.hostname), verifyPeer: null };
}

const caKeys = new WeakMap<Buffer, string>();

/** A short stable key for a CA bundle (pool keys). */
function caKey(ca: string | Buffer): string {
  if (typeof ca === 'string') return createHash('sha256').update(ca).digest('hex').slice(0, 16);
  let key = caKeys.get(ca);
  if (key === undefined) {
    key = createHash('sha256').update(ca).digest('hex').slice(0, 16);
    caKeys.set(ca, key);
  }
  return key;
}

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
  ca: string | Buffer | null = null,
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
      tls: applicationTls(target, ca),
      // A call with its own trust gets its own pool: a pool's connections keep the first's.
      poolKey: `${cluster}|${target.hostname}:${target.port}${ca === null ? '' : `|ca:${caKey(ca)}`}`,
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
