import type { JWTRule } from '../config/schema/request-authentication.js';
import type { Rule } from '../config/schema/authorization-policy.js';
import type { LocalRateLimitConfig } from '../config/schema/local-rate-limit.js';
import type { RateLimitPosition } from './inbound-filter-chain.js';
import type { GlobalRateLimitConfig } from '../config/schema/rate-limit-filter.js';
import type { RateLimitEntry } from '../config/schema/rate-limit-actions.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface ResourceKey {
  readonly namespace: string;
  readonly name: string;
}

/** The effective PeerAuthentication (istio `ComposePeerAuthentication`). */
export interface PeerAuthenticationPlan {
  readonly mode: MtlsMode;
  /** Container (workload) port → mode; UNSET entries already resolved to `mode`. */
  readonly portLevel: Readonly<Record<string, MtlsMode>>;
  /** The mesh, namespace and workload policies that were composed (null when absent). */
  readonly sources: {
    readonly mesh: ResourceKey | null;
    readonly namespace: ResourceKey | null;
    readonly workload: ResourceKey | null;
  };
  /** The mode for a workload port. */
  readonly modeFor: (port: number) => MtlsMode;
}

/** One JWT rule with the policy it came from. */
export interface JwtRulePlan {
  readonly policy: ResourceKey;
  readonly rule: JWTRule;
}

/** One AuthorizationPolicy that selects this workload; rules carried through validated. */
export interface AuthorizationPolicyPlan {
  readonly policy: ResourceKey;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  /** `istio.io/dry-run: "true"`: evaluate and report, never enforce. */
  readonly dryRun: boolean;
  /** CUSTOM only: the meshConfig extension provider name. */
  readonly provider: string | null;
  /** null = `rules` absent (ALLOW without rules matches nothing); [] never occurs after validation. */
  readonly rules: readonly Rule[] | null;
}

export interface AuthorizationPlan {
  readonly custom: readonly AuthorizationPolicyPlan[];
  readonly deny: readonly AuthorizationPolicyPlan[];
  readonly allow: readonly AuthorizationPolicyPlan[];
  readonly audit: readonly AuthorizationPolicyPlan[];
}

/** A local rate limit filter from an EnvoyFilter that applies to this workload. */
export interface RateLimitPlan {
  readonly envoyFilter: ResourceKey;
  readonly applyTo: 'HTTP_FILTER' | 'HTTP_ROUTE';
  readonly context: string;
  /** Listener port the patch is restricted to (`match.listener.portNumber`), null = any. */
  readonly portNumber: number | null;
  readonly config: LocalRateLimitConfig;
  /**
   * Where an HTTP_FILTER patch's filter runs in the inbound chain (compile/inbound-filter-chain.ts);
   * null for an HTTP_ROUTE patch, which configures the filter wherever it sits.
   */
  readonly position: RateLimitPosition | null;
}

/** Where a global rate limit filter sends ShouldRateLimit. */
export type RateLimitServicePlan =
  | {
      /** An Istio outbound cluster `outbound|<port>|<subset>|<host>`: the mesh's cluster, its TLS. */
      readonly kind: 'mesh';
      readonly host: string;
      readonly port: number;
      readonly authority: string;
    }
  | {
      /** A cluster an EnvoyFilter CLUSTER ADD patch creates: plaintext to its endpoints. */
      readonly kind: 'static';
      readonly clusterName: string;
      readonly endpoints: readonly { readonly address: string; readonly port: number }[];
      readonly authority: string;
    }
  /** A cluster the proxy does not have: every call fails (the filter's failure mode decides). */
  | { readonly kind: 'unknown'; readonly clusterName: string };

/** A global rate limit filter (`envoy.filters.http.ratelimit`) from an EnvoyFilter. */
export interface GlobalRateLimitPlan {
  readonly envoyFilter: ResourceKey;
  /** Listener port the patch is restricted to, null = any. */
  readonly portNumber: number | null;
  readonly position: RateLimitPosition;
  readonly config: GlobalRateLimitConfig;
  readonly service: RateLimitServicePlan;
}

/**
 * `rate_limits` an EnvoyFilter merged into the inbound virtual host or route (a gateway's:
 * every route of the port), in patch order.
 */
export interface RateLimitPolicyPlan {
  readonly envoyFilter: ResourceKey;
  readonly portNumber: number | null;
  readonly level: 'vhost' | 'route';
  readonly entries: readonly RateLimitEntry[];
  /** A route patch's `include_vh_rate_limits`; null when it sets none. */
  readonly includeVhRateLimits: boolean | null;
}

/** A port the workload serves for a Service that selects it (compile/inbound-ports.ts). */
export interface InboundPort {
  /** The target port: where the application listens. */
  readonly port: number;
  /** The chain that serves it: HTTP, TCP, or protocol detection (no protocol declared). */
  readonly protocol: 'HTTP' | 'TCP' | 'AUTO';
  /** The Service (or ServiceEntry host) it belongs to. */
  readonly service: string;
}

export interface InboundPlan {
  /**
   * The workload runs as a gateway (compile/gateway-workload.ts): `remote.ip` follows
   * `X-Forwarded-For` per `gatewayTopology.numTrustedProxies`; a sidecar takes its
   * rightmost entry.
   */
  readonly gateway: boolean;
  readonly peerAuthentication: PeerAuthenticationPlan;
  readonly jwtRules: readonly JwtRulePlan[];
  readonly requestAuthentications: readonly ResourceKey[];
  readonly authorization: AuthorizationPlan;
  /**
   * CUSTOM policies may name several providers (istiod's
   * PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS, compile/istiod-features.ts).
   */
  readonly multipleCustomAuthzProviders: boolean;
  readonly rateLimits: readonly RateLimitPlan[];
  /** Global rate limit filters in chain order; absent in plans made by hand. */
  readonly globalRateLimits?: readonly GlobalRateLimitPlan[];
  /** Route and virtual host `rate_limits` that build their descriptors; absent in plans made by hand. */
  readonly rateLimitPolicies?: readonly RateLimitPolicyPlan[];
  /** The ports of the Services that select the workload; absent in plans made by hand. */
  readonly ports?: readonly InboundPort[];
  /**
   * The listeners accept HTTP/1.0 (compile/http10.ts); otherwise it is answered `426`.
   * Absent in plans made by hand: accepted there.
   */
  readonly acceptHttp10?: boolean;
}
