import type { IstiodFeatures } from './istiod-features.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { ServerTLSSettings } from '../config/schema/gateway-tls.js';
import type { ClusterLocalityLb } from './locality-lb.js';
import type { WorkloadIdentity } from './workload.js';
import type { InboundPlan } from './inbound-types.js';
import type { ClusterPolicy } from './traffic-policy.js';
import type { ServiceMtlsModes } from './service-mtls.js';

/** What a route predicate reads from a request. Header keys are lower-case. */
export interface RouteRequest {
  readonly method: string;
  readonly scheme: string;
  /** Host header / :authority as sent (may include `:port`). */
  readonly authority: string;
  /** Path as sent, with the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Verified JWT payload, for `@request.auth.claims[...]` header matches. */
  readonly claims?: Readonly<Record<string, unknown>> | null;
}

/** A compiled predicate with a human description (for `meshlet routes` and debugging). */
export interface Predicate {
  readonly test: (req: RouteRequest) => boolean;
  readonly describe: () => string;
}

/** One compiled `HTTPMatchRequest`: every field ANDed. An empty `conditions` list matches everything. */
export interface CompiledMatch {
  readonly name: string | null;
  readonly conditions: readonly Predicate[];
  readonly test: (req: RouteRequest) => boolean;
  readonly describe: () => string;
  /**
   * The Envoy path prefix the entry matches for `rewrite.uri` / `redirect.prefixRewrite`:
   * its `uri.prefix`, `/` when it has no uri match, null for an exact or regex uri.
   */
  readonly uriPrefix: string | null;
}

/** `HTTPRoute.headers` request/response operations, in Envoy order: remove, then set, then add. */
export interface HeaderOperations {
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

export interface HeaderPolicy {
  readonly request: HeaderOperations | null;
  readonly response: HeaderOperations | null;
  /** `headers.request.set.host` / `:authority`: Istio turns it into an authority rewrite. */
  readonly authorityRewrite: string | null;
}

/** A route destination after short-name resolution and weight normalisation. */
export interface RouteDestination {
  readonly host: string;
  readonly subset: string | null;
  readonly port: number;
  /** Share in percent (weights need not sum to 100; share = w/Σw). */
  readonly weight: number;
  /** `outbound|<port>|<subset>|<fqdn>` */
  readonly cluster: string;
  readonly headers: HeaderPolicy | null;
}

export type RouteAction =
  | {
      readonly kind: 'route';
      readonly destinations: readonly RouteDestination[];
      /**
       * The rule lists several destinations, zero weights included: istiod builds Envoy
       * weighted clusters, whose `headers` authority is a per-cluster host rewrite (route.go
       * processWeightedDestination); a sole destination's is the route's own.
       */
      readonly weighted: boolean;
    }
  | {
      readonly kind: 'redirect';
      readonly uri: string | null;
      readonly authority: string | null;
      readonly scheme: string | null;
      readonly port: number | null;
      readonly derivePort: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT' | null;
      /** `prefixRewrite`: replaces the path prefix the route matched (`uri` replaces the whole path). */
      readonly prefixRewrite: string | null;
      /** 301 unless set. */
      readonly status: number;
    }
  | { readonly kind: 'directResponse'; readonly status: number; readonly body: string | null };

export interface Rewrite {
  readonly uri: string | null;
  readonly authority: string | null;
  /** `uriRegexRewrite`: RE2, compiled once; returns the rewritten path (without query). */
  readonly regex: { readonly describe: () => string; readonly apply: (path: string) => string } | null;
}

/** Envoy retry policy after Istio's translation (`retry.ConvertPolicy`). */
export interface RetryPolicy {
  /** Retries after the first try (total tries = 1 + retries). */
  readonly retries: number;
  readonly retryOn: readonly string[];
  readonly retriableStatusCodes: readonly number[];
  /** ms; null = none. */
  readonly perTryTimeoutMs: number | null;
  /** Backoff base in ms (max = 10 × base). */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly previousHosts: boolean;
  readonly hostSelectionRetryMaxAttempts: number;
  readonly retryRemoteLocalities: boolean;
}

export interface Fault {
  readonly delay: { readonly ms: number; readonly percent: number } | null;
  readonly abort:
    | { readonly httpStatus: number; readonly grpcStatus: null; readonly percent: number }
    | { readonly httpStatus: null; readonly grpcStatus: string; readonly percent: number }
    | null;
}

export interface Mirror {
  readonly host: string;
  readonly subset: string | null;
  readonly port: number;
  readonly cluster: string;
  readonly percent: number;
}

export interface CorsPolicy {
  /** Descriptions of the `allowOrigins` matches, in order. */
  readonly allowOrigins: readonly string[];
  /** Tests one Origin value against allowOrigins. */
  readonly originAllowed: (origin: string) => boolean;
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeMs: number | null;
  readonly allowCredentials: boolean | null;
  readonly unmatchedPreflights: 'FORWARD' | 'IGNORE';
}

/** One compiled HTTP route (an Istio `HTTPRoute` after delegate merging and source filtering). */
export interface CompiledRoute {
  /** `<vs-ns>/<vs-name>/<rule name or index>`; `default` for Istio's default route. */
  readonly id: string;
  readonly name: string | null;
  /** The VirtualService that produced it; null for the default route. */
  readonly virtualService: { readonly namespace: string; readonly name: string } | null;
  /** The delegate VirtualService the rule came from, when it was delegated. */
  readonly delegate: { readonly namespace: string; readonly name: string } | null;
  /** ORed; empty = catch-all. */
  readonly matches: readonly CompiledMatch[];
  readonly test: (req: RouteRequest) => boolean;
  readonly action: RouteAction;
  readonly rewrite: Rewrite | null;
  readonly headers: HeaderPolicy | null;
  /** ms; null = no route timeout (Istio writes 0). */
  readonly timeoutMs: number | null;
  /** null = retries disabled (`attempts: 0`). */
  readonly retries: RetryPolicy | null;
  readonly fault: Fault | null;
  readonly mirrors: readonly Mirror[];
  readonly cors: CorsPolicy | null;
  /**
   * The tracing decorator operation of each Envoy route istiod builds from the rule, one
   * per `matches` entry, or one when it has none (`reviews.default.svc.cluster.local:9080/api*`;
   * compile/route-operation.ts). Absent on Istio's default route.
   */
  readonly operations?: readonly string[];
}

/** An outbound virtual host: one host (or wildcard) on one port, with its ordered routes. */
export interface VirtualHost {
  /** `<host>:<port>`, as istioctl names it. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Domains the request authority is matched against (aliases, VIPs, with/without port). */
  readonly domains: readonly string[];
  /** Owning VirtualService, or null when this is Istio's default route for a service. */
  readonly virtualService: { readonly namespace: string; readonly name: string } | null;
  /** Ordered; first match wins. Empty with a VirtualService = everything is `404 NR`. */
  readonly routes: readonly CompiledRoute[];
  /**
   * A gateway virtual host for a server with `tls.httpsRedirect`: a plaintext request is
   * redirected to https (Envoy `require_tls: ALL`).
   */
  readonly requireTls?: boolean;
  /**
   * A gateway virtual host: the route configurations (`GatewayServerInfo.routeName`) it is
   * in. A request on a connection whose server uses another one does not see it (`404 NR`),
   * as each HTTPS server's filter chain has its own RDS on Envoy. Absent = every one.
   */
  readonly routeNames?: readonly string[];
}

/** A VirtualService that lost a host to an earlier one (first claim wins). */
export interface VirtualServiceConflict {
  readonly host: string;
  readonly winner: { readonly namespace: string; readonly name: string };
  readonly dropped: { readonly namespace: string; readonly name: string };
}

export type ServiceProtocol =
  'HTTP' | 'HTTPS' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'TCP' | 'TLS' | 'MONGO' | 'UNKNOWN';

export interface ServicePort {
  readonly name: string;
  readonly number: number;
  readonly protocol: ServiceProtocol;
  readonly targetPort: number | null;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string | null;
  readonly weight: number;
  /** `region/zone/subzone` (ServiceEntry/WorkloadEntry `locality`, else the `istio-locality` label); null = unknown. */
  readonly locality: string | null;
  readonly network: string | null;
}

/** A host in the service registry (ServiceEntry, Kubernetes Service, or `options.endpoints`). */
export interface Service {
  readonly host: string;
  readonly namespace: string;
  readonly source: 'ServiceEntry' | 'Service' | 'endpoints';
  readonly resource: { readonly namespace: string; readonly name: string } | null;
  readonly addresses: readonly string[];
  readonly ports: readonly ServicePort[];
  readonly location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  readonly resolution: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';
  /** Endpoints per service port number. */
  readonly endpoints: Readonly<Record<string, readonly Endpoint[]>>;
  readonly subjectAltNames: readonly string[];
  /**
   * A Kubernetes Service's traffic distribution (`spec.trafficDistribution`, else the
   * `networking.istio.io/traffic-distribution` annotation of the Service, then of its
   * Namespace; istio pilot/pkg/model/service.go GetTrafficDistribution); absent = Any.
   */
  readonly trafficDistribution?: TrafficDistribution;
  /**
   * A ServiceEntry with a `workloadSelector`: its endpoints are the workloads it selects, and
   * never its host name, even under DNS resolution (serviceentry/conversion.go).
   */
  readonly selectsWorkloads?: boolean;
  /**
   * The Kubernetes ExternalName Services that name this host (`my-httpbin.default.svc...`
   * for `externalName: httpbin.org`): their names route as this service's
   * (compile/external-name-aliases.ts).
   */
  readonly aliases?: readonly string[];
}

/** Istio's `TrafficDistribution` other than Any (`PreferClose` is `PreferSameZone`). */
export type TrafficDistribution = 'PreferSameZone' | 'PreferSameNode';

/** An outbound cluster `outbound|<port>|<subset>|<host>`. */
export interface Cluster {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly subset: string | null;
  /** `ok`; `no-host`, `no-port` (a port the service does not declare) or `no-subset` make the runtime answer `503 NC`. */
  readonly status: 'ok' | 'no-host' | 'no-port' | 'no-subset';
  /** The subset's label selector ({} = all endpoints). */
  readonly subsetLabels: Readonly<Record<string, string>>;
  readonly endpoints: readonly Endpoint[];
  readonly policy: ClusterPolicy;
  /** The DestinationRule(s) that shaped the policy, first one first. */
  readonly destinationRules: readonly { readonly namespace: string; readonly name: string }[];
  /**
   * Whether the first of them has a `workloadSelector` (istio cluster_builder.go
   * `isDrWithSelector`): a sidecar reads a `tls.credentialName` secret only then.
   */
  readonly destinationRuleSelectsWorkload?: boolean;
  /**
   * Locality load balancing for the plan's workload (compile/locality-lb.ts
   * `clusterLocalityLb`); absent or null = endpoints balanced without locality.
   */
  readonly localityLb?: ClusterLocalityLb | null;
}

/** Where a sidecar's tcp_proxy sends connections to one service port (compile/sidecar-tcp-routes.ts). */
export interface TcpRoute {
  readonly host: string;
  readonly port: number;
  /** `<vs-ns>/<vs-name>/tcp/<index>`; null for the service port's default cluster. */
  readonly id: string | null;
  readonly virtualService: { readonly namespace: string; readonly name: string } | null;
  /** Weighted as an HTTP route's. */
  readonly destinations: readonly RouteDestination[];
}

/** The TCP routes of a sidecar's service ports, and their lookup by the name a client dials. */
export interface TcpRouteTable {
  readonly routes: readonly TcpRoute[];
  /** The route for `host` (a short name, `name.ns`, the FQDN or a VIP) and port; null when none. */
  readonly lookup: (host: string, port: number) => TcpRoute | null;
}

/** One SNI filter chain of a sidecar's outbound TLS listener (compile/sidecar-tls-routes.ts). */
export interface TlsChain {
  /** Server names, lower case (`*.example.com` wildcards; `*` takes any name, and none). */
  readonly sniHosts: readonly string[];
  /** `match.destinationSubnets`; empty = any destination address. */
  readonly destinationSubnets: readonly string[];
  /** The rule's destinations (id `<vs-ns>/<vs-name>/tls/<index>`), or the default cluster's. */
  readonly route: TcpRoute;
}

/** The TLS routes of a sidecar's TLS and HTTPS service ports, looked up by address and SNI. */
export interface TlsRouteTable {
  readonly chains: readonly TlsChain[];
  /**
   * The chain a connection to `host:port` that sends `sni` takes: null when no TLS listener
   * has the address; `chain: null` when the listener has no chain for it (Istio's
   * PassthroughFilterChain: the original destination, or BlackHoleCluster under REGISTRY_ONLY).
   */
  readonly lookup: (
    host: string,
    port: number,
    sni: string | null,
  ) => { readonly chain: TlsChain | null } | null;
}

export interface OutboundPlan {
  readonly virtualHosts: readonly VirtualHost[];
  /** TCP service ports' routes (`mesh.connect`); absent in plans built by hand. */
  readonly tcp?: TcpRouteTable;
  /** TLS and HTTPS service ports' SNI routes (`mesh.connect`); absent in plans built by hand. */
  readonly tls?: TlsRouteTable;
  readonly clusters: Readonly<Record<string, Cluster>>;
  readonly services: Readonly<Record<string, Service>>;
  readonly conflicts: readonly VirtualServiceConflict[];
  /** Mesh- and namespace-level PeerAuthentication modes, for auto mTLS (service-mtls.ts). */
  readonly serviceMtls: ServiceMtlsModes;
  /**
   * The virtual host for a request authority (`reviews`, `reviews:9080`,
   * `reviews.default.svc.cluster.local`, a VIP, ...) on `port` (the port the
   * client called, 80 when absent). Map lookups only; null = no route config
   * for that host and port (outboundTrafficPolicy decides).
   */
  readonly lookup: (authority: string, port?: number) => VirtualHost | null;
  /** The first route of `vhost` matching `req`, or null (`404 NR`). */
  readonly route: (vhost: VirtualHost, req: RouteRequest) => CompiledRoute | null;
  /** The cluster for a key, or null when the key is unknown. */
  readonly cluster: (key: string) => Cluster | null;
}

/** One server of a Gateway that selects this workload. */
export interface GatewayServerInfo {
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly port: number;
  readonly portName: string;
  readonly protocol: string;
  /** `ns/host` entries as written, with `./` turned into the Gateway's namespace. */
  readonly hosts: readonly string[];
  /** The server's `tls.mode` (unset = PASSTHROUGH), or null without `tls`. */
  readonly tlsMode: string | null;
  readonly httpsRedirect: boolean;
  /** Whether the gateway terminates the server's TLS: an HTTPS server in any mode but (AUTO_)PASSTHROUGH. */
  readonly terminatesTls: boolean;
  /** The server's `tls` settings as written (certificates, versions, ciphers), or null. */
  readonly tls: ServerTLSSettings | null;
  /** Whether `http` VirtualService rules route this server's traffic (HTTP, or HTTPS terminated here). */
  readonly http: boolean;
  /**
   * istiod's route configuration name for the server (gateway.go `gatewayRDSRouteName`):
   * `http.<port>` for plain HTTP, `https.<port>.<port name>.<gateway>.<namespace>` for an
   * HTTPS server the gateway terminates; null for the others (no HTTP routes).
   */
  readonly routeName: string | null;
}

/**
 * What a gateway workload runs (istio gateway.go `buildGatewayHTTPRouteConfig`): the
 * Gateways that select it, their servers, and one route table per HTTP server port
 * built from the VirtualServices bound to those Gateways. `routes` has the outbound
 * plan's shape, so the outbound pipeline routes a gateway request; its clusters are the
 * plan's clusters.
 */
export interface GatewayPlan {
  readonly gateways: readonly { readonly namespace: string; readonly name: string }[];
  readonly servers: readonly GatewayServerInfo[];
  /**
   * Virtual hosts keyed by server port. `lookup` ignores a port in the authority
   * (Envoy's `ignore_port_in_host_matching`, which istiod sets on gateways) and answers a
   * host no virtual host names with an empty one, so the request is `404 NR`.
   */
  readonly routes: OutboundPlan;
  /**
   * The route of each plain TCP server port (compile/gateway-tcp-routes.ts); a route
   * without destinations closes its connections.
   */
  readonly tcp: readonly GatewayTcpRoute[];
  /**
   * The SNI filter chains of each TLS PASSTHROUGH server port, from VirtualService `tls`
   * rules (compile/gateway-tcp-routes.ts).
   */
  readonly tls: readonly GatewayTlsPort[];
}

/** A gateway's TLS passthrough server port and its SNI-matched routes. */
export interface GatewayTlsPort {
  readonly port: number;
  /** One per `tls[].match` entry that fits the server, in istiod's order; first SNI claim wins. */
  readonly chains: readonly GatewayTlsChain[];
}

/** One `tls` rule match: the SNI names it claims and where its connections go. */
export interface GatewayTlsChain {
  /** `match.sniHosts` as written (`*.example.com` wildcards; `*` for any name). */
  readonly sniHosts: readonly string[];
  /** `<vs-ns>/<vs-name>/tls/<index>`. */
  readonly id: string;
  readonly virtualService: { readonly namespace: string; readonly name: string };
  readonly destinations: readonly RouteDestination[];
}

/** A gateway's TCP server port and the `tcp` rule that routes its connections. */
export interface GatewayTcpRoute {
  readonly port: number;
  /** `<vs-ns>/<vs-name>/tcp/<index>`; null when no rule routes the port. */
  readonly id: string | null;
  readonly virtualService: { readonly namespace: string; readonly name: string } | null;
  /** Weighted as an HTTP route's; empty when no rule routes the port. */
  readonly destinations: readonly RouteDestination[];
}

/** The compiled, frozen plan for one workload. */
export interface MeshPlan {
  readonly workload: WorkloadIdentity;
  /** meshConfig, with `outboundTrafficPolicy` as the workload's Sidecar sets it. */
  readonly meshConfig: MeshConfig;
  /**
   * The Sidecar resource that scopes this workload's outbound services and VirtualServices
   * (compile/sidecar-scope.ts); absent or null when none applies.
   */
  readonly sidecar?: { readonly namespace: string; readonly name: string } | null;
  /** The istiod feature flags it was compiled with. */
  readonly istiodFeatures: IstiodFeatures;
  readonly outbound: OutboundPlan;
  readonly inbound: InboundPlan;
  /** The ingress or egress gateway's routes; absent or null for a workload beside a sidecar. */
  readonly gateway?: GatewayPlan | null;
}
