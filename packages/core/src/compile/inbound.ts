import { parseGoBool } from '../config/validate/go-bool.js';
import { runsAsGateway } from './gateway-workload.js';
import type { Resource } from '../config/resource.js';
import type { EnvoyFilterSpec } from '../config/schema/envoy-filter.js';
import { scanEnvoyFilter } from '../config/schema/local-rate-limit-patches.js';
import { rateLimitService } from './rate-limit-service.js';
import { inboundScope } from '../config/schema/local-rate-limit-scope.js';
import { extAuthzProviderProblem } from '../config/ext-authz-provider-config.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { IstiodFeatures } from './istiod-features.js';
import {
  baseInboundChain,
  placeRateLimits,
  type ChainShape,
  type FilterPatch,
  type RateLimitPosition,
} from './inbound-filter-chain.js';
import type {
  AuthorizationPlan,
  AuthorizationPolicyPlan,
  InboundPlan,
  JwtRulePlan,
  MtlsMode,
  GlobalRateLimitPlan,
  PeerAuthenticationPlan,
  RateLimitPlan,
  RateLimitPolicyPlan,
  ResourceKey,
} from './inbound-types.js';
import type {
  AuthorizationPolicyIn,
  EnvoyFilterIn,
  PeerAuthenticationIn,
  RequestAuthenticationIn,
} from './spec-types.js';
import { compareByAge } from './hosts.js';
import { hasSelector, policySelects } from './policy-selection.js';
import { labelsMatch, type WorkloadIdentity } from './workload.js';

function key(r: Resource): ResourceKey {
  return { namespace: r.metadata.namespace, name: r.metadata.name };
}

function setMode(mode: string | undefined): MtlsMode | null {
  return mode === 'STRICT' || mode === 'PERMISSIVE' || mode === 'DISABLE' ? mode : null;
}

/**
 * istio authn/policy_applier.go `ComposePeerAuthentication`: one mesh policy
 * (root namespace, no selector), one namespace policy (no selector) and one
 * workload policy (selector, not in the root namespace), each the oldest of its
 * kind; applied mesh → namespace → workload with UNSET inheriting; default
 * PERMISSIVE. `portLevelMtls` (workload policy only) is keyed by container port.
 */
export function composePeerAuthentication(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): PeerAuthenticationPlan {
  let mesh: Resource | null = null;
  let ns: Resource | null = null;
  let wl: Resource | null = null;
  const pas = resources.filter((r) => r.kind === 'PeerAuthentication').sort(compareByAge);
  for (const r of pas) {
    const spec = r.spec as PeerAuthenticationIn;
    if (!policySelects(r, spec, workload, rootNamespace)) continue;
    if (!hasSelector(spec.selector)) {
      if (r.metadata.namespace === rootNamespace) mesh ??= r;
      else ns ??= r;
    } else if (r.metadata.namespace !== rootNamespace) wl ??= r;
  }
  let mode: MtlsMode = 'PERMISSIVE';
  for (const r of [mesh, ns, wl]) {
    const m = setMode((r?.spec as PeerAuthenticationIn | undefined)?.mtls?.mode);
    if (m !== null) mode = m;
  }
  const portLevel: Record<string, MtlsMode> = {};
  for (const [port, v] of Object.entries(
    (wl?.spec as PeerAuthenticationIn | undefined)?.portLevelMtls ?? {},
  )) {
    portLevel[port] = setMode(v.mode) ?? mode;
  }
  const resolved = mode;
  return {
    mode: resolved,
    portLevel,
    sources: { mesh: mesh && key(mesh), namespace: ns && key(ns), workload: wl && key(wl) },
    modeFor: (port) => portLevel[String(port)] ?? resolved,
  };
}

function requestAuthentication(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
) {
  const jwtRules: JwtRulePlan[] = [];
  const policies: ResourceKey[] = [];
  for (const r of resources.filter((x) => x.kind === 'RequestAuthentication').sort(compareByAge)) {
    const spec = r.spec as RequestAuthenticationIn;
    if (!policySelects(r, spec, workload, rootNamespace)) continue;
    policies.push(key(r));
    for (const rule of spec.jwtRules ?? []) jwtRules.push({ policy: key(r), rule });
  }
  return { jwtRules, policies };
}

function authorization(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): AuthorizationPlan {
  const out = {
    custom: [] as AuthorizationPolicyPlan[],
    deny: [] as AuthorizationPolicyPlan[],
    allow: [] as AuthorizationPolicyPlan[],
    audit: [] as AuthorizationPolicyPlan[],
  };
  for (const r of resources.filter((x) => x.kind === 'AuthorizationPolicy').sort(compareByAge)) {
    const spec = r.spec as AuthorizationPolicyIn;
    if (!policySelects(r, spec, workload, rootNamespace)) continue;
    const action =
      spec.action === 'DENY' || spec.action === 'AUDIT' || spec.action === 'CUSTOM' ? spec.action : 'ALLOW';
    const plan: AuthorizationPolicyPlan = {
      policy: key(r),
      action,
      dryRun: parseDryRun(r.metadata.annotations['istio.io/dry-run']),
      provider: action === 'CUSTOM' ? (spec.provider?.name ?? null) : null,
      rules: spec.rules === undefined ? null : spec.rules,
    };
    out[
      action === 'CUSTOM' ? 'custom' : action === 'DENY' ? 'deny' : action === 'AUDIT' ? 'audit' : 'allow'
    ].push(plan);
  }
  return out;
}

/**
 * `istio.io/dry-run` as istiod reads it (authz/builder/builder.go isDryRun):
 * `strconv.ParseBool`; a value it refuses is logged and the policy is enforced.
 */
function parseDryRun(value: string | undefined): boolean {
  return value !== undefined && parseGoBool(value) === true;
}

/**
 * Local and global rate limit EnvoyFilters for this workload's inbound side: filters in
 * the root namespace apply to every workload, others only in their namespace;
 * `workloadSelector.labels` narrows. Order follows Istio's EnvoyFilter order:
 * priority, root namespace first, then age. Each HTTP filter goes where its patch puts it
 * in the chain istiod builds (inbound-filter-chain.ts), and the list is in chain order.
 */
function rateLimits(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
  shape: ChainShape,
): { local: RateLimitPlan[]; global: GlobalRateLimitPlan[]; policies: RateLimitPolicyPlan[] } {
  const filters = resources
    .filter((r) => r.kind === 'EnvoyFilter')
    .filter((r) => r.metadata.namespace === rootNamespace || r.metadata.namespace === workload.namespace)
    // targetRefs attach EnvoyFilters to waypoints and gateways, not to a workload's own proxy.
    .filter((r) => ((r.spec as EnvoyFilterIn).targetRefs?.length ?? 0) === 0)
    .filter((r) => labelsMatch((r.spec as EnvoyFilterIn).workloadSelector?.labels ?? {}, workload.labels))
    .sort((a, b) => {
      const pa = (a.spec as EnvoyFilterIn).priority ?? 0;
      const pb = (b.spec as EnvoyFilterIn).priority ?? 0;
      if (pa !== pb) return pa - pb;
      const ra = a.metadata.namespace === rootNamespace ? 0 : 1;
      const rb = b.metadata.namespace === rootNamespace ? 0 : 1;
      return ra !== rb ? ra - rb : compareByAge(a, b);
    });
  const inserted: (FilterPatch & { make: (position: RateLimitPosition) => void })[] = [];
  const local: RateLimitPlan[] = [];
  const global: GlobalRateLimitPlan[] = [];
  const routes: RateLimitPlan[] = [];
  const policies: RateLimitPolicyPlan[] = [];
  const scans = filters.map((r) => ({ r, scan: scanEnvoyFilter(r.spec as EnvoyFilterSpec) }));
  // Clusters ADD patches create for this proxy (istio envoyfilter/cluster_patch.go
  // InsertedClusters: only the context and proxy match apply to an ADD).
  const clusterContexts = shape.gateway ? ['ANY', 'GATEWAY'] : ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND'];
  const clusters = scans.flatMap(({ scan }) =>
    scan.clusters.filter((c) => clusterContexts.includes(c.context)).map((c) => c.cluster),
  );
  for (const { r, scan } of scans) {
    for (const p of scan.patches) {
      // Context, proxy version and route configuration as istiod matches them for a
      // sidecar's inbound side or a gateway; what meshlet cannot apply is warned at load.
      const scope = inboundScope(p, shape.gateway);
      if (!scope.applies) continue;
      const plan = {
        envoyFilter: key(r),
        applyTo: p.applyTo,
        context: p.context,
        portNumber: scope.port,
        config: p.config,
      };
      if (p.applyTo === 'HTTP_ROUTE') routes.push({ ...plan, position: null });
      else
        inserted.push({
          operation: p.operation,
          subFilter: p.match?.listener?.filterChain?.filter?.subFilter?.name,
          name: p.filterName,
          make: (position) => local.push({ ...plan, position }),
        });
    }
    for (const p of scan.globals) {
      const scope = inboundScope(p, shape.gateway);
      if (!scope.applies || p.config.service === null) continue;
      const service = rateLimitService(p.config.service, clusters);
      inserted.push({
        operation: p.operation,
        subFilter: p.match?.listener?.filterChain?.filter?.subFilter?.name,
        name: p.filterName,
        make: (position) =>
          global.push({ envoyFilter: key(r), portNumber: scope.port, position, config: p.config, service }),
      });
    }
    for (const p of scan.rateLimits) {
      const scope = inboundScope(p, shape.gateway);
      if (!scope.applies) continue;
      policies.push({
        envoyFilter: key(r),
        portNumber: scope.port,
        level: p.applyTo === 'VIRTUAL_HOST' ? 'vhost' : 'route',
        entries: p.rateLimits,
        includeVhRateLimits: p.includeVhRateLimits,
      });
    }
  }
  for (const { patch, position } of placeRateLimits(baseInboundChain(shape), inserted))
    inserted[patch]?.make(position);
  return { local: [...local, ...routes], global, policies };
}

/**
 * Which filters istiod puts in the chain for these policies, per CUSTOM provider in name
 * order: a shadow RBAC filter and ext_authz for one it can build ext_authz for, a deny-only
 * RBAC filter for one it cannot, and for every provider when there are several without
 * PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS (authz/builder builder.go buildHTTP);
 * jwt_authn comes with jwtRules.
 */
function chainShape(
  authz: AuthorizationPlan,
  jwtRules: readonly unknown[],
  gateway: boolean,
  meshConfig: Pick<MeshConfig, 'extensionProviders'>,
  multipleCustomProviders: boolean,
): ChainShape {
  const providers = [...new Set(authz.custom.map((p) => p.provider ?? ''))].sort();
  const refused = providers.length > 1 && !multipleCustomProviders;
  const custom = providers.map((name) =>
    !refused && extAuthzProviderProblem(meshConfig, name === '' ? null : name) === null ? 'usable' : 'bad',
  );
  return {
    gateway,
    custom,
    jwt: jwtRules.length > 0,
    audit: authz.audit.length > 0,
    deny: authz.deny.length > 0,
    allow: authz.allow.length > 0,
  };
}

/** The inbound half of the plan (spec/security.md §1–§3, §5). */
export function buildInbound(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
  meshConfig: Pick<MeshConfig, 'extensionProviders'>,
  features: IstiodFeatures,
): InboundPlan {
  const ra = requestAuthentication(resources, workload, rootNamespace);
  const gateway = runsAsGateway(resources, workload);
  const authz = authorization(resources, workload, rootNamespace);
  const limits = rateLimits(
    resources,
    workload,
    rootNamespace,
    chainShape(authz, ra.jwtRules, gateway, meshConfig, features.enableMultipleCustomAuthzProviders),
  );
  return {
    gateway,
    peerAuthentication: composePeerAuthentication(resources, workload, rootNamespace),
    jwtRules: ra.jwtRules,
    requestAuthentications: ra.policies,
    authorization: authz,
    multipleCustomAuthzProviders: features.enableMultipleCustomAuthzProviders,
    rateLimits: limits.local,
    globalRateLimits: limits.global,
    rateLimitPolicies: limits.policies,
  };
}
