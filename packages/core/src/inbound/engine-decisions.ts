import type { MeshConfig } from '../config/mesh-config.js';
import type { ResponseFlag } from '../outbound/meshlet-info.js';
import type { ShadowResult } from './authz/evaluate.js';
import type { DynamicMetadata } from './dynamic-metadata.js';
import type { DenyReason, InboundDecision, ResponseHeaders } from './engine-types.js';

/** Envoy's RBAC filter body (rbac_filter.cc). */
export const RBAC_DENIED_BODY = 'RBAC: access denied';
/**
 * Envoy's local reply when a filter's request buffer limit is exceeded: 413 with the
 * code's reason phrase as body (envoy filter_manager.cc, CodeUtility::toString(PayloadTooLarge)).
 */
export const PAYLOAD_TOO_LARGE_BODY = 'Payload Too Large';
/** Envoy's local rate limit body (local_ratelimit.cc). */
export const RATE_LIMITED_BODY = 'local_rate_limited';

const NO_SHADOW: readonly ShadowResult[] = Object.freeze([]);

/**
 * A refusal, with the AUDIT and dry-run results recorded before the request stopped:
 * Envoy's RBAC filters each report as the request passes them, so one refused by DENY or
 * ALLOW still carries the AUDIT marks and the dry-run results of the filters it reached
 * (evaluate.ts evaluateRbac), and the dynamic metadata they wrote. Every refusal has both
 * fields; empty (null) without results.
 */
export type DeniedDecision = Extract<InboundDecision, { allow: false }> & {
  readonly shadow: readonly ShadowResult[];
  readonly metadata: DynamicMetadata | null;
};

/** A refusal; a non-empty body is sent as `text/plain`, as Envoy's local replies are. */
export function denied(
  status: number,
  body: string,
  headers: ResponseHeaders,
  flags: readonly ResponseFlag[],
  reason: DenyReason,
  shadow: readonly ShadowResult[] = NO_SHADOW,
  metadata: DynamicMetadata | null = null,
): DeniedDecision {
  const h =
    body !== '' && headers['content-type'] === undefined
      ? { ...headers, 'content-type': 'text/plain' }
      : headers;
  return Object.freeze({
    allow: false,
    status,
    body,
    headers: Object.freeze(h),
    flags,
    reason: Object.freeze(reason),
    shadow: shadow.length === 0 ? NO_SHADOW : Object.isFrozen(shadow) ? shadow : Object.freeze([...shadow]),
    metadata,
  });
}

/**
 * A local reply as the connection manager encodes it: `server` overwritten last, after the
 * filter's own headers (an ext_authz denial's included), unless `proxyHeaders.server` is
 * disabled (conn_manager_impl.cc ActiveStream::encodeHeaders; Istio names the inbound
 * server `istio-envoy`, pilot/pkg/networking/util/proxy_headers.go).
 */
export function withServerHeader(d: InboundDecision, mesh: MeshConfig | null): InboundDecision {
  const server = mesh === null ? null : mesh.proxyHeaders.server;
  if (d.allow || server === null) return d;
  const headers: Record<string, string | string[]> = {};
  for (const name in d.headers)
    if (name.toLowerCase() !== 'server') headers[name] = d.headers[name] as string | string[];
  headers['server'] = server.inbound;
  return Object.freeze({ ...d, headers: Object.freeze(headers) });
}

/** Merges header maps left to right; null when all are empty. */
export function mergeHeaders<V extends string | string[]>(
  ...maps: (Readonly<Record<string, V>> | null | undefined)[]
): Readonly<Record<string, V>> {
  let out: Record<string, V> | null = null;
  for (const m of maps) {
    if (m === null || m === undefined) continue;
    for (const k in m) (out ??= {})[k] = m[k] as V;
  }
  return out ?? (EMPTY as Readonly<Record<string, V>>);
}

export const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
