import type { RouteRequest } from '../compile/plan-types.js';
import type { ResponseFlag } from '../outbound/meshlet-info.js';
import type { DynamicMetadata } from './dynamic-metadata.js';
import type { MeshletRequestContext, PeerIdentity } from './request-context.js';
import type { BodySource } from './request-body.js';

/** What the inbound engine needs to know about one request, framework-free. */
export interface InboundRequest {
  readonly method: string;
  /** The request target exactly as received: path, query, and a fragment if one was sent. */
  readonly url: string;
  /** Host / :authority as received (may carry `:port`). */
  readonly authority: string;
  /** Lower-case names; repeated headers as arrays. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /**
   * The request's HTTP version as node reads it (`1.1`, `1.0`). Absent: `1.1`. Envoy's
   * connection manager answers HTTP/1.0 with `426` unless istiod enabled it (PILOT_HTTP10).
   */
  readonly httpVersion?: string;
  /**
   * How many header lines the request arrived with (the node adapters read it off
   * `rawHeaders`). Absent: the engine counts `headers`, each value of a repeated one.
   */
  readonly headerCount?: number;
  /**
   * The bytes of the request's header names and values as it arrived (the node adapters add
   * up `rawHeaders`). Absent: the engine adds up `headers`.
   */
  readonly headerBytes?: number;
  /**
   * The downstream connection's scheme (`https` over TLS). The filters see the connection
   * manager's `:scheme`, which follows a valid x-forwarded-proto (forwarded-proto.ts).
   */
  readonly scheme: 'http' | 'https';
  /** The workload (container) port the request arrived on. */
  readonly port: number;
  /** The verified mTLS peer, or null (plaintext, or TLS without a client certificate). */
  readonly peer: PeerIdentity | null;
  /** The direct peer's IP (`source.ip`). */
  readonly sourceIp: string;
  /** The direct peer's port, when known (the ext_authz CheckRequest source address). */
  readonly sourcePort?: number;
  readonly destinationIp: string;
  /** TLS SNI, when TLS. */
  readonly sni: string | null;
  /**
   * One object per downstream connection (the node adapters pass its socket), for state
   * kept per connection (`local_rate_limit_per_downstream_connection`). Absent: the
   * connection's addresses stand for it.
   */
  readonly connection?: object;
  /**
   * At a gateway, the route the request takes as its filters see it (Envoy's connection
   * manager picks the route before the filters run): null when it has no route entry (no
   * route matches, a redirect, a direct response, an unknown cluster). Absent: not known.
   */
  readonly gatewayRoute?: (req: RouteRequest) => GatewayRouteTarget | null;
  /**
   * The request's body stream, for a CUSTOM provider with `includeRequestBodyInCheck`:
   * read only then, and left for the application as if unread. Absent: checks carry no body.
   */
  readonly bodyStream?: BodySource;
}

/** Where a gateway route sends a request, as a filter can know it before the router runs. */
export interface GatewayRouteTarget {
  /** Its cluster; null when the route weighs several and no draw was given (`meshlet explain`). */
  readonly cluster: string | null;
}

/** Why a request was refused, for logs, metrics and `meshlet explain`. */
export interface DenyReason {
  /**
   * `codec`: Envoy's HTTP/1 codec refused the request before the connection manager had its
   * headers; `connection`: the connection manager refused its headers before routing them
   * (HTTP/1.0, a path it cannot take). Neither has a route, a span or a filter's work;
   * telemetry reports them as codec-refusal-report.ts does.
   */
  readonly stage: 'codec' | 'connection' | 'normalize' | 'ratelimit' | 'jwt' | 'custom' | 'deny' | 'allow';
  /** `ns/name` of the deciding policy, when one decided. */
  readonly policy: string | null;
  /** Human-readable detail, e.g. `rule[0] from[0] principals did not match`. */
  readonly detail: string;
  /**
   * What Envoy writes as `%RESPONSE_CODE_DETAILS%` for this refusal, e.g.
   * `rbac_access_denied_matched_policy[ns[foo]-policy[deny-get]-rule[0]]`,
   * `jwt_authn_access_denied{Jwt_is_expired}`, `ext_authz_denied`, `ext_authz_error`.
   */
  readonly responseCodeDetails?: string;
}

/**
 * Response headers a decision sets: a value per name, or several for a header that cannot be
 * joined (Set-Cookie, as an ext_authz server may send more than one).
 */
export type ResponseHeaders = Readonly<Record<string, string | string[]>>;

export type InboundDecision =
  | {
      readonly allow: true;
      /**
       * The normalized path (+ original query) the app must route on: authorization
       * checked exactly this path (DESIGN.md: the path authz checks is the path the app routes on).
       */
      readonly url: string;
      readonly context: MeshletRequestContext;
      /** Request headers to remove before the app sees them (a JWT not forwarded, ...). */
      readonly removeHeaders: readonly string[];
      /** Request headers to set (outputPayloadToHeader, outputClaimToHeaders, ...). */
      readonly setHeaders: Readonly<Record<string, string>>;
      /** Response headers to add (rate-limit headers, an ext_authz server's Set-Cookie, ...). */
      readonly responseHeaders: ResponseHeaders;
      /** Policies that matched in dry-run or AUDIT mode, for logging. */
      readonly shadow: readonly {
        readonly policy: string;
        readonly action: string;
        readonly result: 'allow' | 'deny' | 'audit';
      }[]; /**
       * The dynamic metadata Envoy's filters would have written on this request: the RBAC
       * filters' dry-run results (`envoy.filters.http.rbac`: `istio_dry_run_deny_shadow_engine_result`,
       * `..._shadow_effective_policy_id`, ...) and AUDIT's `envoy.common` `access_log_hint`.
       * Absent or null when none.
       */
      readonly metadata?: DynamicMetadata | null;
    }
  | {
      readonly allow: false;
      readonly status: number;
      readonly body: string;
      readonly headers: ResponseHeaders;
      readonly flags: readonly ResponseFlag[];
      readonly reason: DenyReason;
      /**
       * AUDIT and dry-run results of the filters the request passed before it was refused
       * (each RBAC filter reports as a request passes it); empty when there are none.
       */
      readonly shadow: readonly {
        readonly policy: string;
        readonly action: string;
        readonly result: 'allow' | 'deny' | 'audit';
      }[]; /** The dynamic metadata the filters it passed wrote (see the allowed decision). */
      readonly metadata?: DynamicMetadata | null;
    };

/** The one framework-free inbound decision point; adapters translate, never decide. */
export interface InboundEngine {
  decide(req: InboundRequest): Promise<InboundDecision>;
  /**
   * The same decision, returned directly when no stage had to wait (no JWT fetch, no
   * CUSTOM provider call): adapters continue in the same tick, without the promise and
   * microtask `decide` costs every request.
   */
  decideNow(req: InboundRequest): InboundDecision | Promise<InboundDecision>;
  close(): Promise<void>;
}
