import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockRateLimitOptions, MockRateLimitService } from './mock-rate-limit.js';
import type { RateLimitConfigInput } from './rate-limit-service.js';
import type { Socket } from 'node:net';
import type { IstiodFeatures } from '../compile/istiod-features.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { PeerIdentity, RequestAuth } from '../inbound/request-context.js';
import type { MeshTcpConnectionInfo } from '../inbound/tcp/tcp-inbound-chain.js';
import type { Mesh, MeshOptions } from '../mesh/types.js';
import type { MeshFetchInit } from '../outbound/client.js';
import type { MeshConnectTarget } from '../outbound/tcp-connect.js';
import type { MeshResponse } from '../outbound/response.js';
import type { ResponseFlag } from '../outbound/meshlet-info.js';
import type { VirtualClock } from './virtual-clock.js';

/** `createMockMesh(options)`. */
export interface MockMeshOptions {
  /**
   * Istio YAML: text (anything with a line break) or file and directory paths, one or
   * several. Documents that are not Istio's (Services, Deployments) are kept, as
   * `loadConfig` keeps them: a Service gives its host the Service's ports.
   */
  readonly config?: string | readonly string[];
  /** Namespace of documents that name none, as `kubectl apply -n`. Default `default`. */
  readonly namespace?: string;
  /** Seed of the one random source every workload draws from (splits, faults, jitter, load balancing). Default 1. */
  readonly seed?: number;
  /** MeshConfig fields given in code; they win over a MeshConfig in the config. */
  readonly meshConfig?: Partial<MeshConfig>;
  /**
   * istiod's feature flags for every workload's plan, as `createMesh` takes them; unset ones
   * come from the process environment under istiod's names, else istiod's defaults.
   */
  readonly istiodFeatures?: Partial<IstiodFeatures>;
  /**
   * Each workload's telemetry (as `createMesh`'s `telemetry`; `false` turns it off). Default
   * on. Every workload keeps its own metrics registry (`(await w.mesh()).metrics`), so none
   * can be given; span processors and a tracer provider may be shared.
   */
  readonly telemetry?: false | Omit<Exclude<MeshOptions['telemetry'], false | undefined>, 'registry'>;
}

/** Where and as whom a mock service instance runs. */
export interface MockServiceOptions {
  /** Default `default`. */
  readonly namespace?: string;
  /** Default `default`. */
  readonly serviceAccount?: string;
  /** Pod labels; `app` defaults to the service name. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The container port. Default 80. A Kubernetes Service in the config maps its ports to it
   * (`targetPort`); without one the service port is the same.
   */
  readonly port?: number;
  /** The pod address; default the next free `10.x.y.z`. Give one to serve a ServiceEntry's static endpoint. */
  readonly address?: string;
  /** The workload (Deployment) name. Default `<service>-<labels.version>`, or the service name without a version. */
  readonly name?: string;
  /** false: no sidecar. No inbound policy, plaintext only, as a pod without injection. Default true. */
  readonly mesh?: boolean;
  /**
   * The app runs meshlet's adapter itself (`@meshlet/fastify` or `@meshlet/express`,
   * registered with this pod's `await service.mesh()`), as the service does in production:
   * the mock then puts no sidecar of its own in front of it, only the connection (mTLS
   * identity, `X-Forwarded-Client-Cert`) the mesh server would give it. Default false.
   */
  readonly adapter?: boolean;
  /**
   * The app serves TLS itself (an HTTPS server, e.g. an external API on 443), with a
   * certificate for the service's host: callers must originate TLS to it (a DestinationRule
   * `SIMPLE`, or an https URL); plaintext is closed. Default false.
   */
  readonly tls?: boolean;
  /** `region/zone/subzone` of the pod's node, for locality load balancing and failover. */
  readonly locality?: string;
}

/** What a mock handler receives. Header names are lower-case. */
export interface MockRequest {
  readonly method: string;
  /** The path without the query, after the sidecar's normalization. */
  readonly path: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** The request body as UTF-8 text ('' when none). */
  readonly body: string;
  /** The request body's bytes, for a body that is not text. */
  readonly rawBody: Buffer;
  /** The verified mTLS peer, or null (plaintext, or no sidecar). */
  readonly peer: PeerIdentity | null;
  /** The JWT identity RequestAuthentication verified, or null. */
  readonly auth: RequestAuth | null;
}

/** What a mock handler answers. A `body` that is not a string or Buffer is sent as JSON. */
export interface MockReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: unknown;
}

/** The second argument of a mock handler. */
export interface MockContext {
  /** Call onward as this workload, through its outbound pipeline. */
  fetch(url: string | URL, init?: MeshFetchInit): Promise<MeshResponse>;
  /** Connect onward over TCP as this workload (`mesh.connect`); logged in `mm.connections`. */
  connect(target: MeshConnectTarget): Promise<Socket>;
  readonly workload: WorkloadIdentity;
}

export type MockHandler = (req: MockRequest, ctx: MockContext) => MockReply | Promise<MockReply>;

/** A Fastify instance, as far as the mock mesh needs one (it hands requests to its server's listener). */
export interface FastifyLike {
  ready(): PromiseLike<unknown>;
  hasPlugin?(name: string): boolean;
  readonly server: { emit(event: 'request', req: IncomingMessage, res: ServerResponse): boolean };
  routing(req: IncomingMessage, res: ServerResponse): void;
}

/** An Express app: a Node request listener with `use` (and its router's `handle`, checked at run time). */
export type ExpressLike = ((req: IncomingMessage, res: ServerResponse) => void) & {
  readonly use: (...args: never[]) => unknown;
};

/** What serves a mock service instance. */
export type MockApp = MockHandler | FastifyLike | ExpressLike;

/**
 * What serves a mock TCP service instance: `mesh.listenTcp`'s handler, with the pod's
 * `ctx` beside. The socket is a real `net.Socket` (one end of a loopback pair the mock
 * makes); its addresses are loopback's, the connection's facts are in `info`.
 */
export type MockTcpHandler = (socket: Socket, info: MeshTcpConnectionInfo, ctx: MockContext) => void;

/** Where and as whom a mock TCP service instance runs. */
export interface MockTcpServiceOptions extends Omit<MockServiceOptions, 'port' | 'adapter' | 'tls'> {
  /** The container port, when it serves one. Default 80 (without `ports`). */
  readonly port?: number;
  /** The container ports it serves, when several (tcp-echo serves 9000, 9001 and 9002). */
  readonly ports?: readonly number[];
}

/** A caller in the mock mesh. */
export interface MockWorkload {
  readonly workload: WorkloadIdentity;
  /** Through the workload's sidecar (outbound pipeline); straight to an endpoint for `mesh: false`. */
  fetch(url: string | URL, init?: MeshFetchInit): Promise<MeshResponse>;
  /**
   * A TCP connection as the workload's sidecar makes it (`mesh.connect`: VirtualService
   * `tcp` routes, the cluster's load balancer and limits, auto mTLS); for `mesh: false`,
   * plaintext straight to one of the Service's endpoints (kube-proxy). Resolves with the
   * connected socket. A pod that closes the connection at once (STRICT to a plaintext
   * client, an AuthorizationPolicy) still connects, as with a sidecar: the socket closes
   * without data.
   * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT` (`details.flags`), or for `mesh: false` a socket error (`code` ECONNREFUSED, ENOTFOUND).
   */
  connect(target: MeshConnectTarget): Promise<Socket>;
  /** The workload's mesh (plan, metrics, telemetry); rejects for `mesh: false`. */
  mesh(): Promise<Mesh>;
}

/** Where an ingress gateway pod runs and which Gateway server port it serves. */
export interface MockGatewayOptions {
  /** Default `istio-system`. */
  readonly namespace?: string;
  /** Default `<name>-service-account`. */
  readonly serviceAccount?: string;
  /** Added to `{ istio: 'ingressgateway', app: <name> }`, the labels of Istio's gateway chart. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The Gateway server port (`servers[].port.number`); default: its only HTTP server port,
   * else its only TCP or TLS passthrough one.
   */
  readonly port?: number;
  readonly address?: string;
  readonly locality?: string;
}

/** An ingress gateway pod of the mock mesh. */
export interface MockGateway {
  readonly workload: WorkloadIdentity;
  /** `<name>.<namespace>.svc.cluster.local`. */
  readonly host: string;
  readonly address: string;
  /** The Gateway server port it serves. */
  readonly port: number;
  /**
   * A request from a client outside the mesh (a browser, the tasks' `curl`), sent to the
   * gateway's port with the URL's host as `Host` (`http://bookinfo.example.com/productpage`
   * is `curl -H "Host: bookinfo.example.com" http://$GATEWAY_URL/productpage`). An https
   * URL is the client's own TLS with the URL's host as SNI (`curl --resolve`): the HTTPS
   * server whose hosts take the name terminates it and routes in its own route
   * configuration; a name no server takes, plaintext to a TLS port, or a MUTUAL server
   * (the mock's client has no certificate) is refused as a connection error. The servers'
   * `credentialName` secrets are taken as present.
   */
  fetch(url: string | URL, init?: MeshFetchInit): Promise<MeshResponse>;
  /**
   * A TCP connection from a client on the internet to the gateway's plain TCP or TLS
   * passthrough server port (the TCP traffic-shifting task's `nc $INGRESS_HOST
   * $TCP_INGRESS_PORT`), proxied by its VirtualService `tcp` (or `tls`) routes. Rejects
   * (`MESHLET_ERR_MESH_OPTIONS`) on an HTTP server port.
   */
  connect(): Promise<Socket>;
  /** The gateway's mesh (plan, metrics, telemetry). */
  mesh(): Promise<Mesh>;
}

/** One instance (pod) serving a service. */
export interface MockService extends MockWorkload {
  /** `<name>.<namespace>.svc.cluster.local`. */
  readonly host: string;
  /** The pod address (`10.x.y.z`). */
  readonly address: string;
  readonly port: number;
  /** Take the instance away: its endpoint leaves every plan, later calls to it fail to connect. */
  stop(): void;
}

/** One TCP service instance (pod). */
export interface MockTcpService extends MockWorkload {
  /** `<name>.<namespace>.svc.cluster.local`. */
  readonly host: string;
  /** The pod address (`10.x.y.z`). */
  readonly address: string;
  /** The container ports it serves. */
  readonly ports: readonly number[];
  /** Take the instance away: its endpoints leave every plan, later connections to it are refused. */
  stop(): void;
}

/** One TCP connection in the mock mesh, as the caller saw it when it was made (or failed). */
export interface MockConnection {
  /** `<namespace>/<workload name>` of the caller. */
  readonly source: string;
  /** `host:port` as the caller dialled it. */
  readonly target: string;
  /** The pod it reached (`ip:port` and its workload); null when it reached none. */
  readonly destination: { readonly address: string; readonly workload: string | null } | null;
  /** Envoy's flags of a connection the sidecar gave up on (`UH`, `UO`, `UF`, `NC`); empty when made. */
  readonly flags: readonly string[];
  /** Virtual time of the attempt. */
  readonly start: number;
  /** The error the connect rejected with, if it did. */
  readonly error: string | null;
}

/** One call in the mock mesh, as the caller saw it. */
export interface MockHop {
  /** `<namespace>/<workload name>` of the caller. */
  readonly source: string;
  readonly method: string;
  readonly url: string;
  /** Where the call went (the last attempt's endpoint); null when it reached none. */
  readonly destination: {
    readonly host: string;
    readonly subset: string | null;
    /** `ip:port` of the endpoint. */
    readonly address: string;
    /** `<namespace>/<workload name>` of the instance at that address, null when none serves it. */
    readonly workload: string | null;
  } | null;
  /** The response status; null when the call failed without one (connection refused, caller timeout). */
  readonly status: number | null;
  readonly flags: readonly ResponseFlag[];
  readonly attempts: number;
  /** Virtual milliseconds from the call to its response. */
  readonly duration: number;
  /** Virtual time the call started. */
  readonly start: number;
  /** The error the call rejected with, if it did. */
  readonly error: string | null;
}

/** `createMockMesh` resolves with this. */
export interface MockMesh {
  /**
   * Serve `name` in `options.namespace` with `app`; several calls with one name are several
   * pods. A name with a dot (`api.example.com`) is an external host: no Kubernetes Service,
   * its pods are found by DNS, as a ServiceEntry with `resolution: DNS` (or none) finds them.
   */
  service(name: string, options: MockServiceOptions, handler: MockHandler): MockService;
  /** The same with a real app: a Fastify instance (without the meshlet plugin) or an Express app. */
  service(name: string, options: MockServiceOptions, app: FastifyLike | ExpressLike): MockService;
  /**
   * Serve `name`'s TCP ports with `handler`, as `mesh.listenTcp` serves them in the pod:
   * PeerAuthentication per port, AuthorizationPolicy as Istio compiles it for TCP (a
   * refused connection is closed before the handler sees it), `istio_tcp_*` with reporter
   * `destination`. Several calls with one name are several pods.
   * @throws MeshletError `MESHLET_ERR_MESH_OPTIONS` for no port, or a handler that is not a function.
   */
  tcpService(name: string, options: MockTcpServiceOptions, handler: MockTcpHandler): MockTcpService;
  /**
   * A rate limit service for the global rate limit filters (`envoy.filters.http.ratelimit`
   * EnvoyFilters) of every workload and gateway: envoyproxy/ratelimit's configuration
   * semantics in memory, windows on the virtual clock. `host` is what a filter's cluster
   * names: the service of `outbound|8081||ratelimit.default.svc.cluster.local`, or the
   * address of a cluster an EnvoyFilter CLUSTER patch adds. A filter whose service has none
   * fails its calls (its `failure_mode_deny` decides).
   * @throws MeshletError `MESHLET_ERR_MESH_OPTIONS` for no host or a host already served;
   *   `MESHLET_ERR_RATELIMIT_CONFIG` for a configuration envoyproxy/ratelimit refuses.
   */
  rateLimitService(
    host: string,
    config: RateLimitConfigInput,
    options?: MockRateLimitOptions,
  ): MockRateLimitService;
  /** A client-only workload; `{ mesh: false }` is a pod without a sidecar (no identity, plaintext). */
  workload(options: Omit<MockServiceOptions, 'port'> & { readonly name?: string }): MockWorkload;
  /**
   * An ingress gateway pod (default `istio-ingressgateway` in `istio-system`, labelled
   * `istio: ingressgateway`) running `mesh.gateway()`: the Gateways that select it and the
   * VirtualServices bound to them route what `gateway.fetch` sends, as from a client on
   * the internet.
   */
  gateway(name?: string, options?: MockGatewayOptions): MockGateway;
  /** Virtual time: delays, timeouts, backoffs and ejections elapse here, not on the wall clock. */
  readonly clock: VirtualClock;
  /** Every call made so far, in the order they finished. */
  readonly log: readonly MockHop[];
  /**
   * Every TCP connection a workload's `connect` (or a handler's `ctx.connect`) made or was
   * refused, in the order they settled. What a gateway proxies from `gateway.connect` shows
   * in its `istio_tcp_*` metrics, not here.
   */
  readonly connections: readonly MockConnection[];
  /** The config in force. */
  readonly snapshot: ConfigSnapshot;
  /**
   * Apply more YAML, as `kubectl apply`: a resource with the kind, namespace and name of
   * one in force replaces it. Every workload reloads. Rejects with
   * `MESHLET_ERR_CONFIG_INVALID` (and changes nothing) when the YAML has errors.
   */
  apply(yaml: string, options?: { readonly namespace?: string }): Promise<void>;
  /**
   * What `sum(name{labels})` would give over every pod's metrics in Prometheus: e.g.
   * `mm.metric('istio_requests_total', { reporter: 'destination', destination_version: 'v2' })`.
   * Counters and gauges by name, histograms by their `_count`, `_sum` or `_bucket` series.
   */
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
  /** Close every workload's mesh. */
  close(): Promise<void>;
}
