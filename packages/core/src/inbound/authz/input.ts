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
  /**
   * Headers set (or, with `undefined`, removed) by earlier filters (JWT, rate limit); win
   * over `headers`. A list is a header jwt_authn added several lines of.
   */
  readonly overlay: Readonly<Record<string, string | readonly string[] | undefined>> | null;
  readonly peer: PeerIdentity | null;
  /** `spiffe://` + the peer principal, as Envoy's `principal_name` matchers read it. */
  readonly peerUri: string | null;
  /**
   * Every name of the peer's certificate, URI SANs then DNS SANs, when it has more than
   * the peer's SPIFFE ID: Envoy's `authenticated` matcher tries each (identity/spiffe.ts
   * peerCertificateNames). Absent: `peerUri` is the only one.
   */
  readonly peerNames?: readonly string[] | undefined;
  /** Verified JWT payload, or null without a token. */
  readonly claims: Readonly<Record<string, unknown>> | null;
  readonly sourceIp: Ip | null;
  readonly remoteIp: Ip | null;
  readonly destinationIp: Ip | null;
  readonly sni: string | null;
  /** `:authority` as sent (`host` is lower-cased); absent: `host`. */
  readonly authority?: string;
  /** `?query` of the target (no fragment) or ''; absent: ''. */
  readonly query?: string;
  /** `:scheme`; absent: 'http'. */
  readonly scheme?: string;
}

/**
 * The pseudo-headers Envoy's matchers read from the request itself, as the
 * connection manager left it: `:path` is the normalized path with its query
 * (fragment stripped). `host` is absent: "Envoy always uses the HTTP/2 :authority
 * header to represent the HTTP/1 Host header" (envoy route_components.proto
 * HeaderMatcher). Istio passes `request.headers[<name>]` through as the matcher's
 * name (pilot/pkg/security/authz/model/generator.go requestHeaderGenerator).
 */
function pseudoHeader(input: AuthzInput, name: string): string | undefined | null {
  switch (name) {
    case ':authority':
      return input.authority ?? input.host;
    case ':method':
      return input.method;
    case ':path':
      return input.path + (input.query ?? '');
    case ':scheme':
      return input.scheme ?? 'http';
    case 'host':
      return undefined;
    default:
      return null;
  }
}

/**
 * The values of `request.headers[name]` the RBAC header matcher tests one by one:
 * Envoy 1.37.1 (changelog, area rbac; CVE-2026-26308, Istio CVE-2026-31838) matches
 * each value of a repeated header individually, no longer their `,`-joined string
 * (runtime guard `envoy.reloadable_features.rbac_match_headers_individually`, on).
 * `undefined` when the header is absent.
 */
export function headerValuesOf(input: AuthzInput, name: string): string | readonly string[] | undefined {
  if (input.overlay !== null && name in input.overlay) return input.overlay[name];
  const pseudo = pseudoHeader(input, name);
  if (pseudo !== null) return pseudo;
  const v = input.headers[name];
  return v === undefined || typeof v === 'string' || v.length > 0 ? v : undefined;
}

/** `request.headers[name]` as one string (repeated values joined with `,`), for display. */
export function headerOf(input: AuthzInput, name: string): string | undefined {
  const v = headerValuesOf(input, name);
  return v === undefined || typeof v === 'string' ? v : v.join(',');
}
