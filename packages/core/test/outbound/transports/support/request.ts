import type { Readable } from 'node:stream';
import type { TransportRequest, TransportTls } from '../../../../src/outbound/transport.js';

export interface RequestInput {
  readonly method?: string;
  readonly headers?: Record<string, string | readonly string[]>;
  readonly body?: Buffer | Readable | null;
  readonly signal?: AbortSignal | null;
  readonly connectTimeoutMs?: number;
  readonly tls?: TransportTls | null;
  readonly poolKey?: string;
  readonly maxConnections?: number;
  readonly maxRequestsPerConnection?: number;
  readonly idleTimeoutMs?: number;
  readonly maxConnectionDurationMs?: number;
  readonly keepaliveTimeMs?: number;
}

/** A TransportRequest as the pipeline builds one, with Istio's defaults for the pool. */
export function transportRequest(url: string, input: RequestInput = {}): TransportRequest {
  const u = new URL(url);
  return {
    url: u,
    method: input.method ?? 'GET',
    headers: { host: 'reviews.default.svc.cluster.local:9080', ...input.headers },
    body: input.body ?? null,
    signal: input.signal ?? null,
    connectTimeoutMs: input.connectTimeoutMs ?? 10_000,
    tls: input.tls ?? null,
    poolKey: input.poolKey ?? `outbound|9080||reviews.default.svc.cluster.local|${u.host}`,
    pool: {
      maxConnections: input.maxConnections ?? 4294967295,
      maxRequestsPerConnection: input.maxRequestsPerConnection ?? 0,
      idleTimeoutMs: input.idleTimeoutMs ?? 3_600_000,
      ...(input.maxConnectionDurationMs === undefined
        ? {}
        : { maxConnectionDurationMs: input.maxConnectionDurationMs }),
      ...(input.keepaliveTimeMs === undefined ? {} : { keepaliveTimeMs: input.keepaliveTimeMs }),
    },
  };
}

export async function text(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}
