import type { MountedCredentials } from '../identity/mounted-secret.js';
import type { ClientTlsEvent } from './client-credentials.js';
import type { IstiodFeatures } from '../compile/istiod-features.js';
import type { Got } from 'got';
import type { StaticEndpoint } from '../compile/registry.js';
import type { MeshPlan } from '../compile/plan-types.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { Diagnostic } from '../config/diagnostic.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { MeshFetchInit } from '../outbound/client.js';
import type { ResolveDns } from '../outbound/endpoints-dns.js';
import type { MeshResponse } from '../outbound/response.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import type { TransportOption } from './transport-option.js';
import type { CertSource } from '../identity/types.js';
import type { InboundHandle } from '../inbound/handle.js';
import type { MeshServer } from '../inbound/server/mesh-server.js';
import type { MeshTcpHandler, MeshTcpServer } from '../inbound/tcp/mesh-tcp-server.js';
import type { GatewayServerOptions } from '../gateway/gateway-server.js';
import type { GatewayListener } from '../gateway/gateway-listener.js';
import type { AppConnectionTarget } from '../outbound/app-connection.js';
import type { Duplex } from 'node:stream';
import type { Server as HttpsServer } from 'node:https';
import type { GatewayTlsEvent } from '../gateway/gateway-tls-watch.js';
import type { GatewayTcpServerOptions } from '../gateway/listen-gateway-tcp.js';
import type { MeshConnectTarget } from '../outbound/tcp-connect.js';
import type { Server as NetServer, Socket as NetSocket } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { MeshTelemetry, MeshTelemetryOptions } from '../telemetry/mesh-telemetry.js';

/** `createMesh(options)` (DESIGN.md "Public API"). */
export interface MeshOptions {
  /**
   * Istio YAML: file(s) or dir(s), watched and reloaded. Default: env `MESHLET_CONFIG`.
   * None: pass-through (no routing rules; every call goes to its own host).
   */
  readonly config?: string | readonly string[];
  /**
   * Who this process is. Unset fields come from `POD_NAME`, `POD_NAMESPACE`,
   * `SERVICE_ACCOUNT` and the downward-API labels file `/etc/podinfo/labels`.
   */
  readonly workload?: Partial<WorkloadIdentity>;
  /** Static endpoints per host, beside ServiceEntry/WorkloadEntry ones. */
  readonly endpoints?: Readonly<Record<string, readonly StaticEndpoint[]>>;
  /** MeshConfig fields given in code; they win over a MeshConfig in the config files. */
  readonly meshConfig?: Partial<MeshConfig>;
  /** `'got'` (default), `'undici'`, or a `Transport`. A given Transport is the caller's to close. */
  readonly transport?: TransportOption;
  /** Timers for timeouts, backoff and outlier sweeps (default: the system clock). */
  readonly clock?: Clock;
  /** Randomness for splits, faults, jitter and load balancing (default: Math.random). */
  readonly random?: Random;
  /** DNS for hosts with no known endpoints (default: the system resolver). */
  readonly resolveDns?: ResolveDns;
  /** Quiet time before a config reload (ms; Istio's FILE_DEBOUNCE_DURATION is 100). */
  readonly debounceMs?: number;
  /**
   * istiod's feature flags, for the configuration this process compiles. Unset ones come from
   * the process environment under istiod's names (`PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS`),
   * else istiod's defaults.
   */
  readonly istiodFeatures?: Partial<IstiodFeatures>;
  /**
   * Workload certificates: a mounted directory (`tls.crt`/`tls.key`/`ca.crt`,
   * `cert-chain.pem`/`key.pem`/`root-cert.pem` or spiffe-helper's names), watched and
   * hot-swapped on rotation, or a `CertSource`. Default: env `MESHLET_CERTS`; none = no
   * mTLS (plaintext out, and STRICT ports accept nothing).
   */
  readonly certs?: string | CertSource;
  /**
   * Where the Kubernetes secrets a `credentialName` names are mounted: a directory with one
   * directory per secret (`<name>/tls.crt`, `tls.key`, `ca.crt`, or `cert`, `key`,
   * `cacert`), or a map from secret name to its directory. DestinationRule
   * `tls.credentialName` reads them for TLS origination (a gateway, or a sidecar whose
   * DestinationRule has a `workloadSelector`, as istiod allows), re-read within a second
   * of a renewal; `listenGateway` and `listenGatewayTcp` take them unless given their own.
   */
  readonly credentials?: MountedCredentials;
  /**
   * Start the admin server (Envoy's 15000 / Istio's 15020 in one): `/stats/prometheus`,
   * `/config_dump`, `/clusters`, `/ready`, `/server_info`. Bound to 127.0.0.1 unless `host`
   * says otherwise; port 0 picks a free one (see `mesh.admin`).
   */
  readonly admin?: { readonly port?: number; readonly host?: string };
  /**
   * Istio metrics, traces and access logs (on by default): an app's own prom-client
   * `registry` or OpenTelemetry `tracerProvider`, extra span processors, OTLP export,
   * propagation formats, cluster id, histogram buckets, access-log sink. `false` turns
   * telemetry off entirely.
   */
  readonly telemetry?:
    | false
    | Partial<
        Omit<MeshTelemetryOptions, 'workload' | 'snapshot' | 'meshConfig' | 'clock' | 'hasCertificate'>
      >;
}

/** A good reload: the new plan is in place. */
export interface MeshReloadEvent {
  readonly plan: MeshPlan;
  readonly snapshot: ConfigSnapshot;
  readonly previous: MeshPlan;
}

/** A bad reload: the previous plan stays; every problem is listed. */
export interface MeshRejectedEvent {
  readonly reasons: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
  readonly snapshot: ConfigSnapshot;
}

export interface MeshEvents {
  reload: [event: MeshReloadEvent];
  rejected: [event: MeshRejectedEvent];
  /** `listenGateway`'s certificates were rotated, or a rotation was rejected (the old ones stay). */
  gatewayTls: [event: GatewayTlsEvent];
  /**
   * A DestinationRule credential (`credentialName` secret or files) was loaded, rotated, a
   * renewal rejected (the last good one stays), or is unavailable, with the reason.
   */
  clientTls: [event: ClientTlsEvent];
}

/** What `createMesh` returns. */
export interface Mesh {
  /** A call through Istio's outbound pipeline (routing, retries, timeouts, pools, outlier detection, faults). */
  fetch(url: string | URL, init?: MeshFetchInit): Promise<MeshResponse>;
  /**
   * A got instance whose requests run through `fetch`: got's own retries are off (the
   * mesh retries), redirects are followed by got as an application client would, and
   * each response has `meshlet`. Bodies go in `body`/`json`/`form`; a stream piped into
   * `got.stream.post()` is not sent.
   */
  readonly got: Got;
  /** The plan in force now (frozen). A call keeps the plan it started with. */
  readonly plan: MeshPlan;
  /** The config snapshot the plan was compiled from. */
  readonly snapshot: ConfigSnapshot;
  on<E extends keyof MeshEvents>(event: E, listener: (...args: MeshEvents[E]) => void): Mesh;
  off<E extends keyof MeshEvents>(event: E, listener: (...args: MeshEvents[E]) => void): Mesh;
  /** Stop watching config, stop sweep timers, close the transport the mesh made. Idempotent. */
  close(): Promise<void>;
  /** What `@meshlet/fastify` and `@meshlet/express` take: one decision per request, and the peer of a socket. */
  readonly inbound: InboundHandle;
  /** The prom-client Registry holding the `istio_*` and `meshlet_*` metrics (null with `telemetry: false`). */
  readonly metrics: Registry | null;
  /** The telemetry bundle (tracing, access logs, metrics); null with `telemetry: false`. */
  readonly telemetry: MeshTelemetry | null;
  /** The admin server's address when `admin` was given, else null. */
  readonly admin: { readonly port: number; readonly url: string } | null;
  /** The workload certificates in force (null without `certs`). */
  readonly certs: CertSource | null;
  /**
   * Serve `app` on `port` with PeerAuthentication applied per port: STRICT (mTLS only),
   * PERMISSIVE (mTLS and plaintext on one port), DISABLE. `app` is a request listener
   * (an Express app) or an http.Server with one request listener.
   */
  listen(
    app: ((req: IncomingMessage, res: ServerResponse) => void) | Server,
    port: number,
    host?: string,
  ): Promise<MeshServer>;
  /**
   * Serve a TCP port of this workload (a Service port with protocol TCP, MONGO, REDIS, MYSQL
   * or none declared) as the sidecar's inbound tcp_proxy chain does: PeerAuthentication per
   * port (STRICT: mTLS only; PERMISSIVE: mTLS, plaintext, and TLS the application terminates
   * itself; DISABLE), then the AuthorizationPolicies as Istio applies them to TCP (rules with
   * HTTP-only fields left out of ALLOW, those fields dropped from DENY and AUDIT). An admitted
   * connection goes to `handler` with its verified peer; a refused one is closed before the
   * application sees it (`meshConnectionRefused`, reason `rbac-denied`, and
   * `meshConnectionDenied` on the server). `istio_tcp_*` (reporter `destination`) and an
   * access log line are reported for each connection. Closed by `mesh.close()`.
   */
  listenTcp(handler: MeshTcpHandler, port: number, host?: string): Promise<MeshTcpServer>;
  /**
   * For Fastify: `Fastify({ serverFactory: mesh.serverFactory })`. The server is a
   * `MeshServer` (a net.Server that sniffs TLS and speaks HTTP/1.1 through an inner
   * http.Server, forwarding its timeouts and connection methods); it is typed as the
   * http.Server Fastify expects.
   */
  readonly serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
  /**
   * Run this workload as an Istio ingress gateway: a request listener for one Gateway
   * server port (`options.port`, the server's `port.number`; optional when the Gateways
   * that select this workload have one HTTP server port). Requests pass the gateway's
   * RequestAuthentication, AuthorizationPolicy and local rate limits, then are routed by
   * the VirtualServices bound to its Gateways and sent on through the outbound pipeline.
   * Serve it with `http.createServer(mesh.gateway())` (or `https.createServer` for a
   * server whose TLS the gateway terminates); a Gateway's listener does not apply
   * PeerAuthentication, so not with `mesh.listen`. Its `upgrade` proxies WebSockets, as
   * Istio's gateways do: `server.on('upgrade', listener.upgrade)`.
   *
   * @throws MeshletError `MESHLET_ERR_MESH_OPTIONS` when no Gateway selects this workload
   * or no HTTP server is on `port`.
   */
  gateway(options?: GatewayListenerOptions): GatewayListener;
  /**
   * `mesh.gateway()` served on its own listener, with the TLS its Gateway servers ask for:
   * plain HTTP, or HTTPS terminated with the `credentialName` secrets mounted under
   * `options.credentials` (SIMPLE, MUTUAL, OPTIONAL_MUTUAL), or with the workload
   * certificates (ISTIO_MUTUAL), chosen by SNI among the port's servers. The credential
   * directories are watched, and a config reload or workload certificate rotation re-reads
   * them: new handshakes use new certificates (`gatewayTls` event `rotated`); unusable ones
   * are `rejected` and the old ones stay. Closed by `mesh.close()`.
   *
   * @throws MeshletError (as a rejection) `MESHLET_ERR_MESH_OPTIONS` for a workload no
   * Gateway selects, a port without an HTTP(S) server, a missing credential or a TLS setting
   * meshlet cannot apply, naming the Gateway and field.
   */
  listenGateway(options?: GatewayServerOptions): Promise<Server>;
  /**
   * A listener for a plain TCP Gateway server port (protocol TCP, MONGO, REDIS, MYSQL), the
   * istio.io TCP traffic-shifting task's: each connection goes where the port's VirtualService
   * `tcp` rule sends it (weighted destinations, the cluster's load balancer, auto mTLS with the
   * gateway's identity to mesh workloads, or plain TCP), as Envoy's tcp_proxy sends it. A TLS
   * PASSTHROUGH server port (HTTPS or TLS) routes each connection by its ClientHello's SNI to
   * the VirtualService `tls` rule naming it, and relays the encrypted stream. A port no rule
   * routes closes its connections. Closed by `mesh.close()`.
   *
   * @throws MeshletError (as a rejection) `MESHLET_ERR_MESH_OPTIONS` for a workload no
   * Gateway selects or a port without a plain TCP or TLS passthrough server.
   */
  listenGatewayTcp(options?: GatewayTcpServerOptions): Promise<NetServer>;
  /**
   * A TCP connection through the mesh, as the sidecar's outbound tcp_proxy makes it: a
   * service's TCP port (TCP, MONGO, REDIS, MYSQL, or an undeclared protocol) goes where its
   * VirtualService `tcp` route sends it (weighted, `match` on port, sourceLabels,
   * sourceNamespace), else to its default cluster, through the DestinationRule's load
   * balancer, `maxConnections`, `connectTimeout` and outlier detection, over auto mTLS to
   * mesh workloads. Resolves with the connected socket (plaintext to read and write; hand
   * it to a client library that takes one); `istio_tcp_*` metrics and an access log line
   * are reported for it. A host outside the registry is dialled directly (ALLOW_ANY).
   *
   * @throws MeshletError (as a rejection) `MESHLET_ERR_OUTBOUND_CONNECT` with `details.flags`
   * (NC, UH, UO, UF), or for a host outside the registry under REGISTRY_ONLY.
   */
  connect(target: MeshConnectTarget): Promise<NetSocket>;
  /**
   * A connection to the sidecar's outbound HTTP listener, in process, for an HTTP client that
   * takes a connection rather than a URL: `http.request({ ..., createConnection:
   * mesh.createConnection })`, or a `ws` client, `new WebSocket('ws://chat.foo:8000/ws', {
   * createConnection: mesh.createConnection })`. What the client writes on it is HTTP/1.1 to
   * `target` (its `host` and `port`, as those clients pass them), sent on through the mesh as
   * `mesh.fetch` sends it: routing by the Host header, retries, timeouts, mTLS, telemetry. A
   * WebSocket upgrade is proxied as the sidecar's connection manager does (a 101 joins the
   * two connections; it is reported when one closes, `DC` when the application closed first,
   * `UC` when the upstream did). Use `ws://` or `http://`: the mesh originates the TLS. An
   * https client's requests (node's `https.request`, which expects a TLS connection and writes
   * plaintext on this one) go out as the application's own TLS, trusting its `ca`; a `wss://`
   * WebSocket's connection fails with `MESHLET_ERR_OUTBOUND_URL`. A property, not a method:
   * pass it as it is.
   *
   * @throws MeshletError `MESHLET_ERR_OUTBOUND_URL` for a port outside 1-65535,
   * `MESHLET_ERR_MESH_CLOSED` once the mesh is closed.
   */
  readonly createConnection: (target?: AppConnectionTarget | null) => Duplex;
  /**
   * Decide the upgrade requests (WebSocket handshakes) of a server meshlet did not make before
   * its `upgrade` listeners hear of them, as `mesh.listen`'s and a `serverFactory`'s are:
   * Express's own server (`mesh.guardUpgrades(app.listen(8080))`), Fastify's `app.server` with
   * `ws` on it. A denied upgrade gets its reply and the connection closes; an allowed one
   * reaches the listeners with `req.meshlet`, and is reported when its connection closes.
   * Current and later listeners are guarded; a server meshlet made is left as it is.
   *
   * @throws MeshletError `MESHLET_ERR_MESH_OPTIONS` for something that is not a server.
   */
  guardUpgrades(server: Server | HttpsServer): void;
}

/** Options of `mesh.gateway`. */
export interface GatewayListenerOptions {
  /** The Gateway server port (`servers[].port.number`) this listener serves. */
  readonly port?: number;
}
