import type { TokenBucket } from '../../config/schema/local-rate-limit.js';
import type { InboundRequest } from '../engine-types.js';
import { createBucket, type BucketState } from './token-bucket.js';

/**
 * A connection's own bucket under `local_rate_limit_per_downstream_connection: true`: envoy
 * local_ratelimit `Filter::getPerConnectionRateLimiter` keeps one limiter in the connection's
 * filter state (key `per_connection_local_rate_limiter`, `LifeSpan::Connection`), made full
 * from the config of the first filter that asks for it on that connection.
 */
export interface ConnectionBucket {
  readonly bucket: TokenBucket;
  readonly state: BucketState;
}

/** Connections known only by their addresses (no socket in the request): the oldest are forgotten past this. */
const MAX_ADDRESS_KEYED = 10_000;

/**
 * The downstream connection of a request: the adapter's `connection` (the socket), else
 * its addresses (a framework-free caller that passes none).
 */
export function connectionOf(req: InboundRequest): object | string {
  return req.connection ?? `${req.sourceIp}|${req.sourcePort ?? 0}|${req.destinationIp}|${req.port}`;
}

/** The per-connection buckets of one compiled plan. */
export class ConnectionBuckets {
  private readonly bySocket = new WeakMap<object, ConnectionBucket>();
  private readonly byAddress = new Map<string, ConnectionBucket>();

  /** The connection's bucket, made full from `bucket` on its first use. */
  get(req: InboundRequest, bucket: TokenBucket, now: number): ConnectionBucket {
    const conn = connectionOf(req);
    const found = typeof conn === 'string' ? this.byAddress.get(conn) : this.bySocket.get(conn);
    if (found !== undefined) return found;
    const made: ConnectionBucket = { bucket, state: createBucket(now, bucket) };
    if (typeof conn !== 'string') this.bySocket.set(conn, made);
    else {
      if (this.byAddress.size >= MAX_ADDRESS_KEYED) {
        const oldest = this.byAddress.keys().next();
        if (oldest.done !== true) this.byAddress.delete(oldest.value);
      }
      this.byAddress.set(conn, made);
    }
    return made;
  }
}
