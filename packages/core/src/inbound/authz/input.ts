import type { PeerIdentity } from '../request-context.js';
import type { Ip } from './ip.js';

/**
 * What AuthorizationPolicy matching reads from one request, prepared once by the
 * engine: the normalized path, the lower-cased authority, parsed addresses, the
 * verified peer and the JWT claims (spec/security.md §3).
 */
export interface AuthzInput {
  readonly method: string;
  /** Normalized path without query or fragment. */
  readonly path: string;
  /** `:authority` lower-cased, port kept; '' when absent. */
  readonly host: string;
  /** The workload port the request arrived on (`ports`, `destination.port`). */
  readonly port: number;
  /** Request headers (lower-case names) as the app will receive them. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Headers set (or, with `undefined`, removed) by earlier filters (JWT, rate limit); win over `headers`. */
  readonly overlay: Readonly<Record<string, string | undefined>> | null;
  readonly peer: PeerIdentity | null;
  /** `spiffe://` + the peer principal, as Envoy's `principal_name` matchers read it. */
  readonly peerUri: string | null;
  /** Verified JWT payload, or null without a token. */
  readonly claims: Readonly<Record<string, unknown>> | null;
  readonly sourceIp: Ip | null;
  readonly remoteIp: Ip | null;
  readonly destinationIp: Ip | null;
  readonly sni: string | null;
}

/**
 * `request.headers[name]`: Envoy joins repeated headers with `,` and matches the
 * joined string (istio.io normalization "Duplicate headers").
 */
export function headerOf(input: AuthzInput, name: string): string | undefined {
  if (input.overlay !== null && name in input.overlay) return input.overlay[name];
  const v = input.headers[name];
  if (v === undefined || typeof v === 'string') return v;
  return v.length === 0 ? undefined : v.join(',');
}
