import type { MeshPlan } from '../../compile/plan-types.js';
import { peerCertificateNames } from '../../identity/spiffe.js';
import { compileAuthorization, type CompiledPolicy } from '../authz/compile-policies.js';
import { evaluateRbac, rbacDeniedDetails, type ShadowResult } from '../authz/evaluate.js';
import { resolveExtAuthzProvider } from '../authz/ext-authz-provider.js';
import type { AuthzInput } from '../authz/input.js';
import { parseIp } from '../authz/ip.js';
import type { PeerIdentity } from '../request-context.js';

/** What the network RBAC filter reads of one connection. */
export interface ConnectionFacts {
  /** The verified mTLS peer, null for plaintext. */
  readonly peer: PeerIdentity | null;
  /** The workload port the connection arrived on (`ports`, `destination.port`). */
  readonly port: number;
  readonly sourceIp: string;
  readonly destinationIp: string;
  /** The SNI of the mTLS handshake (`connection.sni`), null without one. */
  readonly sni: string | null;
}

export type ConnectionDecision =
  | { readonly allow: true; readonly shadow: readonly ShadowResult[] }
  | {
      readonly allow: false;
      readonly stage: 'custom' | 'deny' | 'allow';
      /** `ns/name` of the deciding policy; null when no ALLOW policy matched. */
      readonly policy: string | null;
      readonly detail: string;
      /** Envoy's `%CONNECTION_TERMINATION_DETAILS%`: `rbac_access_denied_matched_policy[...]`. */
      readonly terminationDetails: string;
      readonly shadow: readonly ShadowResult[];
    };

/** A CUSTOM policy on a TCP chain, and what Envoy's chain does when it matches. */
interface TcpCustom {
  readonly policy: CompiledPolicy;
  /** null: the policy is ignored (an HTTP provider); else why the matched connection is refused. */
  readonly refusal: string | null;
}

/**
 * The CUSTOM policies of a TCP chain (istio authz/builder builder.go `buildTCP`): an HTTP
 * provider has no network filter and is left out ("ignored CUSTOM action with HTTP provider
 * on TCP filter chain"); a provider istiod cannot resolve, or several providers without
 * PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS, turn the policy into a deny of what it
 * matches. A gRPC provider is asked by Envoy's network ext_authz, which meshlet does not
 * have: its matches are refused (closed, never an unchecked allow), and said so.
 */
function tcpCustom(plan: MeshPlan, policies: readonly CompiledPolicy[]): TcpCustom[] {
  const providers = [...new Set(policies.map((p) => p.provider ?? ''))].sort();
  if (providers.length > 1 && !plan.inbound.multipleCustomAuthzProviders) {
    const problem = `multiple CUSTOM authorization providers per workload requires PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS, found ${providers.length} providers: ${providers.join(', ')}`;
    return policies.map((policy) => ({ policy, refusal: problem }));
  }
  return policies.map((policy) => {
    const resolved = resolveExtAuthzProvider(plan.meshConfig, policy.provider);
    if (typeof resolved === 'string') return { policy, refusal: resolved };
    if (resolved.kind === 'http') return { policy, refusal: null };
    return {
      policy,
      refusal: `CUSTOM provider ${JSON.stringify(resolved.name)} is gRPC: Envoy checks a TCP connection with its network ext_authz filter, which meshlet does not run, so the connection is refused`,
    };
  });
}

const NO_SHADOW: readonly ShadowResult[] = Object.freeze([]);

/**
 * What a TCP chain does with each CUSTOM policy of the plan, one line each: not applied
 * (an HTTP provider) or refusing what it matches, and why (`meshlet explain --tcp`).
 */
export function tcpCustomNotes(plan: MeshPlan): string[] {
  const custom = compileAuthorization(
    { ...plan.inbound.authorization, deny: [], allow: [], audit: [] },
    { trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases], tcp: true },
  ).custom;
  return tcpCustom(plan, custom).map((c) =>
    c.refusal === null
      ? `CUSTOM ${c.policy.name}: its provider is HTTP, which has no TCP filter: not applied to TCP connections (istiod builds none)`
      : `CUSTOM ${c.policy.name}: refuses the connections it matches: ${c.refusal}`,
  );
}

/** The authorization of a TCP port's connections, compiled once per plan. */
export interface ConnectionAuthorization {
  decide(facts: ConnectionFacts): ConnectionDecision;
}

function inputOf(f: ConnectionFacts): AuthzInput {
  const source = parseIp(f.sourceIp);
  return {
    method: '',
    path: '',
    host: '',
    port: f.port,
    headers: {},
    overlay: null,
    peer: f.peer,
    peerUri: f.peer === null ? null : `spiffe://${f.peer.principal}`,
    peerNames: f.peer === null ? undefined : peerCertificateNames(f.peer),
    claims: null,
    sourceIp: source,
    // A TCP chain has no X-Forwarded-For: `remoteIpBlocks` reads the connection's peer.
    remoteIp: source,
    destinationIp: parseIp(f.destinationIp),
    sni: f.sni,
  };
}

/**
 * A plan's AuthorizationPolicies as the network filters of a TCP inbound chain apply them:
 * rules compiled `forTCP` (tcp-rules.ts), CUSTOM first, then AUDIT, DENY and ALLOW as on
 * HTTP (evaluate.ts). Envoy's network RBAC filter decides on the connection's first data
 * (rbac_filter.cc onData) from the connection's addresses, SNI and peer certificate; the
 * same facts are known once the connection is accepted, so the decision is the same.
 */
export function compileConnectionAuthorization(plan: MeshPlan): ConnectionAuthorization {
  const authz = compileAuthorization(plan.inbound.authorization, {
    trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases],
    tcp: true,
  });
  const custom = tcpCustom(plan, authz.custom);
  return {
    decide(facts) {
      const input = inputOf(facts);
      for (const c of custom) {
        if (c.refusal === null || c.policy.dryRun) continue;
        const k = c.policy.leastMatch(input);
        if (k < 0) continue;
        return {
          allow: false,
          stage: 'custom',
          policy: c.policy.name,
          detail: `CUSTOM policy ${c.policy.name} rule[${k}] matched: ${c.refusal}`,
          terminationDetails: rbacDeniedDetails(c.policy.envoyName(k)),
          shadow: NO_SHADOW,
        };
      }
      const outcome = evaluateRbac(authz, input);
      if (outcome.allow) return { allow: true, shadow: outcome.shadow };
      return {
        allow: false,
        stage: outcome.stage,
        policy: outcome.policy,
        detail: outcome.detail,
        terminationDetails: outcome.responseCodeDetails,
        shadow: outcome.shadow,
      };
    },
  };
}
