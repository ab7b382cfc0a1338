import type { SecretDump } from './secrets-dump.js';
import type {
  Cluster,
  CompiledRoute,
  Endpoint,
  GatewayPlan,
  MeshPlan,
  RetryPolicy,
  RouteAction,
  Service,
  VirtualHost,
} from '../compile/plan-types.js';
import type { ClusterPolicy } from '../compile/traffic-policy.js';
import type { InboundPlan, MtlsMode, RateLimitPolicyPlan } from '../compile/inbound-types.js';
import { listenersView, type ListenerRow } from '../cli/listeners-view.js';
import { routesView, type RoutesView } from '../cli/routes-view.js';
import type { TelemetryDump } from './telemetry-dump.js';

/** What the admin server knows about the configuration the plan came from. */
export interface ConfigInfo {
  /** `WatchedConfig.hash`: sha256 over the files read, shortened. */
  readonly hash: string;
  /** Epoch ms the configuration was loaded. */
  readonly loadedAt: number;
  readonly files: readonly string[];
}

/** One route of a virtual host, as plain data (the compiled matchers become their `describe()`). */
export interface RouteDump {
  readonly id: string;
  readonly name: string | null;
  /** `name.namespace`, or null for Istio's default route. */
  readonly virtualService: string | null;
  readonly delegate: string | null;
  /** ORed `HTTPMatchRequest` descriptions; empty = catch-all. */
  readonly match: readonly string[];
  readonly action: RouteAction;
  readonly rewrite: {
    readonly uri: string | null;
    readonly authority: string | null;
    readonly regex: string | null;
  } | null;
  readonly timeoutMs: number | null;
  readonly retries: RetryPolicy | null;
  readonly fault: CompiledRoute['fault'];
  readonly mirrors: CompiledRoute['mirrors'];
  readonly headers: CompiledRoute['headers'];
  /** The route's corsPolicy (Envoy's per-route CORS filter config), its origins described. */
  readonly cors: Omit<NonNullable<CompiledRoute['cors']>, 'originAllowed'> | null;
}

export interface VirtualHostDump {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly domains: readonly string[];
  readonly virtualService: string | null;
  readonly routes: readonly RouteDump[];
}

/** istioctl proxy-config clusters' TYPE: how Envoy would discover the cluster's endpoints. */
export type ClusterType = 'EDS' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST' | 'STATIC';

export interface ClusterDump {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly subset: string | null;
  readonly direction: 'outbound';
  readonly type: ClusterType;
  readonly status: Cluster['status'];
  /** `name.namespace` of each DestinationRule that shaped the policy. */
  readonly destinationRules: readonly string[];
  readonly subsetLabels: Readonly<Record<string, string>>;
  readonly policy: ClusterPolicy;
  readonly endpoints: readonly Endpoint[];
}

export interface InboundDump {
  readonly peerAuthentication: {
    readonly mode: MtlsMode;
    readonly portLevel: Readonly<Record<string, MtlsMode>>;
    readonly sources: InboundPlan['peerAuthentication']['sources'];
  };
  readonly requestAuthentications: InboundPlan['requestAuthentications'];
  readonly jwtRules: InboundPlan['jwtRules'];
  readonly authorization: InboundPlan['authorization'];
  readonly rateLimits: InboundPlan['rateLimits'];
  /** The global rate limit filters (`envoy.filters.http.ratelimit`) and where they call. */
  readonly globalRateLimits: NonNullable<InboundPlan['globalRateLimits']>;
  /** The route and virtual host `rate_limits`, a regex matcher as its pattern text. */
  readonly rateLimitPolicies: readonly RateLimitPolicyDump[];
}

/** A `rate_limits` patch's entries as JSON: a `header_value_match` regex as its pattern. */
export interface RateLimitPolicyDump extends Omit<RateLimitPolicyPlan, 'entries'> {
  readonly entries: readonly unknown[];
}

function rateLimitPolicyDump(p: RateLimitPolicyPlan): RateLimitPolicyDump {
  return {
    ...p,
    entries: p.entries.map((e) => ({
      ...e,
      actions: e.actions.map((a) =>
        a.kind !== 'header_value_match'
          ? a
          : {
              ...a,
              headers: a.headers.map((h) =>
                h.match.kind === 'regex' ? { ...h, match: { kind: 'regex', regex: h.match.pattern } } : h,
              ),
            },
      ),
    })),
  };
}

/** A gateway's servers and its TCP and TLS passthrough routes (its HTTP routes are in `routeTable.gateway`). */
export interface GatewayDump {
  /** `name.namespace` of each Gateway selecting the workload. */
  readonly gateways: readonly string[];
  readonly servers: GatewayPlan['servers'];
  readonly tcp: GatewayPlan['tcp'];
  readonly tls: GatewayPlan['tls'];
}

/** `/config_dump`: the active plan as JSON, with the config hash and load time. */
export interface ConfigDump {
  readonly configHash: string;
  readonly loadedAt: number;
  readonly files: readonly string[];
  readonly workload: MeshPlan['workload'];
  /** meshConfig, `outboundTrafficPolicy` as the workload's Sidecar sets it. */
  readonly meshConfig: MeshPlan['meshConfig'];
  /** `name.namespace` of the Sidecar resource that scopes the workload; null when none does. */
  readonly sidecar: string | null;
  readonly virtualHosts: readonly VirtualHostDump[];
  readonly clusters: readonly ClusterDump[];
  readonly conflicts: MeshPlan['outbound']['conflicts'];
  /** The route table exactly as `meshlet routes -o json` prints it (what `proxy-config routes` renders). */
  readonly routeTable: RoutesView;
  /** The listeners as `meshlet proxy-config listeners` prints them. */
  readonly listeners: readonly ListenerRow[];
  /** The gateway's servers and TCP/TLS routes; null for a workload beside a sidecar. */
  readonly gateway: GatewayDump | null;
  readonly inbound: InboundDump;
  /** Metrics, tracing (sampling, provider and export target) and access logs in force; null with telemetry off. */
  readonly telemetry: TelemetryDump | null;
  /** The certificates in use and awaited, as `meshlet proxy-config secret` prints them. */
  readonly secrets: readonly SecretDump[];
}

const keyName = (k: { readonly namespace: string; readonly name: string } | null): string | null =>
  k === null ? null : `${k.name}.${k.namespace}`;

function routeDump(r: CompiledRoute): RouteDump {
  return {
    id: r.id,
    name: r.name,
    virtualService: keyName(r.virtualService),
    delegate: keyName(r.delegate),
    match: r.matches.map((m) => m.describe()),
    action: r.action,
    rewrite:
      r.rewrite === null
        ? null
        : {
            uri: r.rewrite.uri,
            authority: r.rewrite.authority,
            regex: r.rewrite.regex === null ? null : r.rewrite.regex.describe(),
          },
    timeoutMs: r.timeoutMs,
    retries: r.retries,
    fault: r.fault,
    mirrors: r.mirrors,
    headers: r.headers,
    cors: r.cors === null ? null : corsDump(r.cors),
  };
}

function corsDump({ originAllowed: _, ...policy }: NonNullable<CompiledRoute['cors']>): RouteDump['cors'] {
  return policy;
}

function vhostDump(vh: VirtualHost): VirtualHostDump {
  return {
    name: vh.name,
    host: vh.host,
    port: vh.port,
    domains: vh.domains,
    virtualService: keyName(vh.virtualService),
    routes: vh.routes.map(routeDump),
  };
}

/**
 * Envoy's cluster discovery type as istiod chooses it (pilot/pkg/networking/core/cluster_builder.go):
 * Kubernetes services and STATIC ServiceEntries are EDS, DNS resolution is STRICT_DNS,
 * DNS_ROUND_ROBIN is LOGICAL_DNS, NONE is ORIGINAL_DST.
 */
export function clusterType(service: Service | undefined): ClusterType {
  if (service === undefined) return 'EDS';
  switch (service.resolution) {
    case 'DNS':
    case 'DYNAMIC_DNS':
      return 'STRICT_DNS';
    case 'DNS_ROUND_ROBIN':
      return 'LOGICAL_DNS';
    case 'NONE':
      return 'ORIGINAL_DST';
    case 'STATIC':
      return 'EDS';
  }
}

function clusterDump(c: Cluster, service: Service | undefined): ClusterDump {
  return {
    name: c.key,
    host: c.host,
    port: c.port,
    subset: c.subset,
    direction: 'outbound',
    type: clusterType(service),
    status: c.status,
    destinationRules: c.destinationRules.map((k) => `${k.name}.${k.namespace}`),
    subsetLabels: c.subsetLabels,
    policy: c.policy,
    endpoints: c.endpoints,
  };
}

/**
 * The active plan as JSON-ready plain data (`/config_dump`): virtual hosts with their
 * routes, clusters with their effective policy, the inbound policies, plus the config
 * hash, load time and files. Matchers appear as their `describe()` text; no function
 * survives.
 */
export function configDump(
  plan: MeshPlan,
  config: ConfigInfo,
  telemetry: TelemetryDump | null = null,
  secrets: readonly SecretDump[] = [],
): ConfigDump {
  const pa = plan.inbound.peerAuthentication;
  const clusters = Object.values(plan.outbound.clusters).map((c) =>
    clusterDump(c, plan.outbound.services[c.host]),
  );
  clusters.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    configHash: config.hash,
    loadedAt: config.loadedAt,
    files: config.files,
    workload: plan.workload,
    meshConfig: plan.meshConfig,
    sidecar: keyName(plan.sidecar ?? null),
    virtualHosts: plan.outbound.virtualHosts.map(vhostDump),
    clusters,
    conflicts: plan.outbound.conflicts,
    routeTable: routesView(plan),
    listeners: listenersView(plan),
    gateway:
      plan.gateway === undefined || plan.gateway === null
        ? null
        : {
            gateways: plan.gateway.gateways.map((g) => `${g.name}.${g.namespace}`),
            servers: plan.gateway.servers,
            tcp: plan.gateway.tcp,
            tls: plan.gateway.tls,
          },
    inbound: {
      peerAuthentication: { mode: pa.mode, portLevel: pa.portLevel, sources: pa.sources },
      requestAuthentications: plan.inbound.requestAuthentications,
      jwtRules: plan.inbound.jwtRules,
      authorization: plan.inbound.authorization,
      rateLimits: plan.inbound.rateLimits,
      globalRateLimits: plan.inbound.globalRateLimits ?? [],
      rateLimitPolicies: (plan.inbound.rateLimitPolicies ?? []).map(rateLimitPolicyDump),
    },
    telemetry,
    secrets,
  };
}
