import type { MeshPlan } from '../../compile/plan-types.js';
import type { ResponseFlag } from '../../outbound/meshlet-info.js';
import { peerCertificateNames } from '../../identity/spiffe.js';
import { compileAuthorization, type CompiledPolicy } from '../authz/compile-policies.js';
import { evaluateRbac, rbacDeniedDetails, type ShadowResult } from '../authz/evaluate.js';
import { resolveExtAuthzProvider, type ExtAuthzGrpcProvider } from '../authz/ext-authz-provider.js';
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
  /** The downstream's port, for an ext_authz CheckRequest (0 when unknown). */
  readonly sourcePort?: number;
}

export type ConnectionDecision =
  | { readonly allow: true; readonly shadow: readonly ShadowResult[] }
  | {
      readonly allow: false;
      readonly stage: 'custom' | 'deny' | 'allow';
      /** `ns/name` of the deciding policy; null when no ALLOW policy matched. */
      readonly policy: string | null;
      readonly detail: string;
      /**
       * Envoy's `%CONNECTION_TERMINATION_DETAILS%`: `rbac_access_denied_matched_policy[...]`
       * from the RBAC filter; null when the network ext_authz filter closed it.
       */
      readonly terminationDetails: string | null;
      /** Response flags: `UAEX` when the ext_authz provider refused it. */
      readonly flags: readonly ResponseFlag[];
      /**
       * The gRPC ext_authz provider a matched CUSTOM policy sends the connection to, when
       * the decision was made without asking it (no `check`: `meshlet explain`).
       */
      readonly asks?: string;
      readonly shadow: readonly ShadowResult[];
    };

/** What an ext_authz provider answered for a connection (network ext_authz). */
export type ConnectionCheckResult =
  { readonly allow: true } | { readonly allow: false; readonly failed: boolean; readonly detail: string };

/** The peers of a connection as a network ext_authz CheckRequest carries them. */
export interface ConnectionCheckFacts extends ConnectionFacts {
  /** `spiffe://…` of the local workload, sent as the destination principal over mTLS. */
  readonly localPrincipal: string;
}

/** Asks a gRPC ext_authz provider about a connection (connection-ext-authz.ts). */
export type ConnectionCheck = (
  provider: ExtAuthzGrpcProvider,
  facts: ConnectionCheckFacts,
) => Promise<ConnectionCheckResult>;

/** One provider's CUSTOM policies on a TCP chain, and what Envoy's chain does when they match. */
interface TcpCustom {
  readonly policies: readonly CompiledPolicy[];
  /**
   * `ignored`: an HTTP provider, no filter; `refuse`: a deny RBAC filter, with why;
   * `check`: a gRPC provider, asked by the network ext_authz filter.
   */
  readonly action:
    | { readonly kind: 'ignored' }
    | { readonly kind: 'refuse'; readonly why: string }
    | { readonly kind: 'check'; readonly provider: ExtAuthzGrpcProvider };
}

/**
 * The CUSTOM policies of a TCP chain, by provider in name order (istio authz/builder
 * builder.go `buildTCP`): an HTTP provider has no network filter and is left out
 * ("ignored CUSTOM action with HTTP provider on TCP filter chain"); a provider istiod
 * cannot resolve, or several providers without PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS,
 * turn the policies into a deny of what they match; a gRPC provider gets a shadow RBAC
 * filter and Envoy's network ext_authz filter, which asks it about each connection its
 * policies match (extauthz.go `generateGRPCConfig`, `tcp`).
 */
function tcpCustom(plan: MeshPlan, policies: readonly CompiledPolicy[]): TcpCustom[] {
  const providers = [...new Set(policies.map((p) => p.provider ?? ''))].sort();
  const of = (provider: string) => policies.filter((p) => (p.provider ?? '') === provider);
  if (providers.length > 1 && !plan.inbound.multipleCustomAuthzProviders) {
    const why = `multiple CUSTOM authorization providers per workload requires PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS, found ${providers.length} providers: ${providers.join(', ')}`;
    return providers.map((provider) => ({ policies: of(provider), action: { kind: 'refuse', why } }));
  }
  return providers.map((provider) => {
    const resolved = resolveExtAuthzProvider(plan.meshConfig, provider);
    if (typeof resolved === 'string')
      return { policies: of(provider), action: { kind: 'refuse', why: resolved } };
    if (resolved.kind === 'http') return { policies: of(provider), action: { kind: 'ignored' } };
    return { policies: of(provider), action: { kind: 'check', provider: resolved } };
  });
}

/** The matched CUSTOM policy with the least rule id (dry-run ones left out, as on HTTP), or null. */
function customMatch(
  policies: readonly CompiledPolicy[],
  input: AuthzInput,
): { readonly policy: CompiledPolicy; readonly rule: number } | null {
  let best: { policy: CompiledPolicy; rule: number; id: string } | null = null;
  for (const policy of policies) {
    if (policy.dryRun) continue;
    const rule = policy.leastMatch(input);
    if (rule < 0) continue;
    const id = policy.envoyName(rule);
    if (best === null || id < best.id) best = { policy, rule, id };
  }
  return best;
}

const NO_SHADOW: readonly ShadowResult[] = Object.freeze([]);
const NO_FLAGS: readonly ResponseFlag[] = Object.freeze([]);
const UAEX: readonly ResponseFlag[] = Object.freeze(['UAEX']);

/**
 * What a TCP chain does with each CUSTOM policy of the plan, one line each: not applied
 * (an HTTP provider) or refusing what it matches, and why (`meshlet explain --tcp`).
 */
export function tcpCustomNotes(plan: MeshPlan): string[] {
  const custom = compileAuthorization(
    { ...plan.inbound.authorization, deny: [], allow: [], audit: [] },
    { trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases], tcp: true },
  ).custom;
  return tcpCustom(plan, custom).flatMap((c) =>
    c.policies.map((p) =>
      c.action.kind === 'ignored'
        ? `CUSTOM ${p.name}: its provider is HTTP, which has no TCP filter: not applied to TCP connections (istiod builds none)`
        : c.action.kind === 'check'
          ? `CUSTOM ${p.name}: the connections it matches are sent to gRPC provider ${JSON.stringify(c.action.provider.name)} (Envoy's network ext_authz), admitted only if it answers OK`
          : `CUSTOM ${p.name}: refuses the connections it matches: ${c.action.why}`,
    ),
  );
}

/** The authorization of a TCP port's connections, compiled once per plan. */
export interface ConnectionAuthorization {
  /**
   * Without `check`, a connection a gRPC provider's CUSTOM policy matches is refused (with
   * `asks` naming the provider); with it, the provider is asked and the decision may be a
   * promise.
   */
  decide(facts: ConnectionFacts): ConnectionDecision;
  decide(facts: ConnectionFacts, check: ConnectionCheck): ConnectionDecision | Promise<ConnectionDecision>;
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
  const localPrincipal = `spiffe://${plan.meshConfig.trustDomain}/ns/${plan.workload.namespace}/sa/${plan.workload.serviceAccount}`;
  const rbac = (input: AuthzInput): ConnectionDecision => {
    const outcome = evaluateRbac(authz, input);
    if (outcome.allow) return { allow: true, shadow: outcome.shadow };
    return {
      allow: false,
      stage: outcome.stage,
      policy: outcome.policy,
      detail: outcome.detail,
      terminationDetails: outcome.responseCodeDetails,
      flags: NO_FLAGS,
      shadow: outcome.shadow,
    };
  };
  /** The CUSTOM filters from the `i`th provider on, then the RBAC filter, in the chain's order. */
  const from = (
    i: number,
    facts: ConnectionFacts,
    input: AuthzInput,
    check: ConnectionCheck | undefined,
  ): ConnectionDecision | Promise<ConnectionDecision> => {
    for (let at = i; at < custom.length; at++) {
      const c = custom[at]!;
      if (c.action.kind === 'ignored') continue;
      const m = customMatch(c.policies, input);
      if (m === null) continue;
      const matched = `CUSTOM policy ${m.policy.name} rule[${m.rule}] matched`;
      if (c.action.kind === 'refuse')
        return {
          allow: false,
          stage: 'custom',
          policy: m.policy.name,
          detail: `${matched}: ${c.action.why}`,
          terminationDetails: rbacDeniedDetails(m.policy.envoyName(m.rule)),
          flags: NO_FLAGS,
          shadow: NO_SHADOW,
        };
      const provider = c.action.provider;
      if (check === undefined)
        return {
          allow: false,
          stage: 'custom',
          policy: m.policy.name,
          detail: `${matched}: the connection goes to gRPC ext_authz provider ${JSON.stringify(provider.name)}, which was not asked here`,
          terminationDetails: null,
          flags: UAEX,
          asks: provider.name,
          shadow: NO_SHADOW,
        };
      return check(provider, { ...facts, localPrincipal }).then(
        (r): ConnectionDecision | Promise<ConnectionDecision> =>
          r.allow
            ? from(at + 1, facts, input, check)
            : {
                allow: false,
                stage: 'custom',
                policy: m.policy.name,
                detail: `${matched}: ${r.detail}`,
                terminationDetails: null,
                flags: UAEX,
                shadow: NO_SHADOW,
              },
      );
    }
    return rbac(input);
  };
  return {
    decide: ((facts: ConnectionFacts, check?: ConnectionCheck) =>
      from(0, facts, inputOf(facts), check)) as ConnectionAuthorization['decide'],
  };
}
