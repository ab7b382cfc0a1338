import type { TransportRequest } from '../transport.js';
import { poolSettings, sameSettings, type PoolSettings } from './pool-settings.js';

/** Something a transport keeps per `poolKey` (a Node agent, an undici Pool). */
export interface PoolEntry {
  readonly settings: PoolSettings;
  /** Stop taking requests; close when idle. */
  retire(): void;
  destroy(): void | Promise<void>;
}

/**
 * One pool per `poolKey`. When a reload changes a cluster's DestinationRule limits or
 * TLS, the old pool is retired (its in-flight requests finish) and a new one built, as
 * Envoy drains a cluster's old connection pools on a CDS update.
 */
export class PoolRegistry<P extends PoolEntry> {
  readonly #pools = new Map<string, P>();
  readonly #retired = new Set<P>();
  readonly #create: (settings: PoolSettings, req: TransportRequest) => P;
  #closed = false;

  constructor(create: (settings: PoolSettings, req: TransportRequest) => P) {
    this.#create = create;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get(req: TransportRequest): P {
    // An https and a plain pool never share sockets, even under one cluster key.
    const key = req.url.protocol === 'https:' ? `https|${req.poolKey}` : req.poolKey;
    const current = this.#pools.get(key);
    if (current !== undefined && sameSettings(current.settings, req)) return current;
    if (current !== undefined) {
      current.retire();
      this.#retired.add(current);
    }
    const next = this.#create(poolSettings(req), req);
    this.#pools.set(key, next);
    return next;
  }

  /** Number of live (not retired) pools. */
  get size(): number {
    return this.#pools.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#pools.values(), ...this.#retired];
    this.#pools.clear();
    this.#retired.clear();
    await Promise.all(all.map(async (p) => p.destroy()));
  }
}
