import type { ConsistentHash } from '../compile/traffic-policy.js';
import { headerValue, type HeaderRecord } from './request-input.js';

/**
 * The consistent-hash key of a request (`loadBalancer.consistentHash`): a header,
 * a cookie, a query parameter, or the source IP — a client always has one source
 * address, so every call of this workload hashes alike. Null when the value is absent
 * (Envoy then falls back to a random pick).
 */
export function hashKeyOf(
  ch: ConsistentHash | null,
  headers: Readonly<HeaderRecord>,
  path: string,
  sourceKey: string,
): string | null {
  if (ch === null) return null;
  const k = ch.key;
  switch (k.kind) {
    case 'header':
      return headerValue(headers, k.name) ?? null;
    case 'sourceIp':
      return sourceKey;
    case 'queryParameter': {
      const q = path.indexOf('?');
      if (q === -1) return null;
      return new URLSearchParams(path.slice(q + 1)).get(k.name);
    }
    case 'cookie': {
      const raw = headers['cookie'];
      const all = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
      for (const line of all) {
        for (const part of line.split(';')) {
          const eq = part.indexOf('=');
          if (eq !== -1 && part.slice(0, eq).trim() === k.name) return part.slice(eq + 1).trim();
        }
      }
      return null;
    }
  }
}
