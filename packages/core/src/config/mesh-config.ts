/**
 * The MeshConfig fields the runtime reads, with Istio's defaults
 * (istio/api mesh/v1alpha1/config.proto; istio pkg/config/mesh/mesh.go DefaultMeshConfig).
 */
export type PathNormalization = 'DEFAULT' | 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export interface ExtensionProvider {
  readonly name: string;
  /** The provider's one configured kind, e.g. `envoyExtAuthzHttp`, `zipkin`, `envoyFileAccessLog`. */
  readonly type: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** `defaultProviders`: extension provider names used where a Telemetry names none. */
export interface DefaultProviders {
  readonly tracing: readonly string[];
  readonly metrics: readonly string[];
  readonly accessLogging: readonly string[];
}

/**
 * `meshMTLS`: the TLS parameters of the mesh mTLS *server* side (istio/api mesh/v1alpha1
 * config.proto `TLSConfig`; istio pilot/pkg/security/authn/utils BuildInboundTLS). Istio
 * does not apply it to the client side of ISTIO_MUTUAL.
 */
export interface MeshTlsConfig {
  /** `minProtocolVersion`: TLSV1_3 gives `TLSv1.3`; TLS_AUTO / TLSV1_2 / unset keep Istio's TLS 1.2. */
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** `cipherSuites` (OpenSSL names, TLS 1.2 and below); empty = the defaults. */
  readonly cipherSuites: readonly string[];
}

/**
 * `tlsDefaults`: ECDH curves and cipher suites of non-ISTIO_MUTUAL upstream TLS, i.e.
 * DestinationRule SIMPLE and MUTUAL (istio pilot/pkg/networking/core/cluster_tls.go
 * applyTLSDefaults), and those plus the minimum version of a gateway's SIMPLE, MUTUAL and
 * OPTIONAL_MUTUAL servers, under the server's own settings (listener.go
 * applyDownstreamTLSDefaults).
 */
export interface TlsDefaults {
  readonly ecdhCurves: readonly string[];
  readonly cipherSuites: readonly string[];
  /** `minProtocolVersion`; unset (or null) leaves the TLS library's minimum, TLS 1.2. */
  readonly minProtocolVersion?: 'TLSv1.2' | 'TLSv1.3' | null;
}

/**
 * `caCertificates[]`: extra trust anchors for workload-to-workload mTLS. Their PEM roots
 * join the mesh root in the trust bundle both ways, and their `trustDomains` join the
 * trust domains a peer's SPIFFE ID may carry (istio pilot/pkg/trustbundle and
 * networking/plugin/authn TrustDomainsForValidation).
 */
export interface CaCertificate {
  readonly pem: string | null;
  readonly spiffeBundleUrl: string | null;
  readonly trustDomains: readonly string[];
  readonly certSigners: readonly string[];
}

export interface MeshConfig {
  readonly rootNamespace: string;
  /**
   * `localityLbSetting`, as written (default `{ enabled: true }`, pkg/config/mesh/mesh.go): the
   * locality load balancing of every cluster whose DestinationRule sets none
   * (compile/locality-lb.ts).
   */
  readonly localityLbSetting: Readonly<Record<string, unknown>>;
  /**
   * `zoneAwareLbSetting`, as written; null when unset (Istio 1.31). It wins over
   * `localityLbSetting` for clusters whose DestinationRule and Service set neither
   * (compile/zone-aware.ts `effectiveLbSetting`).
   */
  readonly zoneAwareLbSetting: Readonly<Record<string, unknown>> | null;
  readonly trustDomain: string;
  readonly trustDomainAliases: readonly string[];
  readonly pathNormalization: PathNormalization;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /**
   * `enableTracing` (default true): with no Telemetry tracing and no default tracing
   * provider, false turns tracing off (istio pilot/pkg/networking/core/tracing.go).
   */
  readonly enableTracing: boolean;
  /**
   * `enableAutoMtls` (default true): without a DestinationRule `tls`, a client sends
   * ISTIO_MUTUAL to endpoints that run in the mesh; false sends plaintext unless a rule says.
   */
  readonly enableAutoMtls: boolean;
  /**
   * `protocolDetectionTimeout` in ms (Istio's default 0: none). How long an inbound port
   * waits for a client's first bytes to tell TLS from plaintext before it goes on as
   * plaintext (the inbound listener's `listener_filters_timeout` with
   * `continue_on_listener_filters_timeout`, istio listener_inbound.go), which lets a
   * server-first protocol (MySQL, MongoDB) work on a PERMISSIVE port.
   */
  readonly protocolDetectionTimeoutMs: number;
  /** defaultConfig.tracing.sampling, percent 0-100; Istio's default is 1. */
  readonly tracingSampling: number;
  readonly extensionProviders: readonly ExtensionProvider[];
  /**
   * `defaultProviders`. Default `metrics: [prometheus]`, no tracing or access-log default:
   * what the `istio` ConfigMap of a helm or istioctl install holds (istiod's own built-in
   * default, pkg/config/mesh/mesh.go, is empty; the install's ConfigMap adds prometheus).
   */
  readonly defaultProviders: DefaultProviders;
  readonly meshMTLS: MeshTlsConfig;
  readonly caCertificates: readonly CaCertificate[];
  readonly tlsDefaults: TlsDefaults;
  /** '' = access log off (Istio's default). */
  readonly accessLogFile: string;
  readonly accessLogEncoding: 'TEXT' | 'JSON';
  readonly accessLogFormat: string;
  /** gatewayTopology.numTrustedProxies (0 = use the direct peer). */
  readonly numTrustedProxies: number;
  /**
   * `defaultConfig.gatewayTopology.forwardClientCertDetails`: a gateway's
   * `X-Forwarded-Client-Cert` mode, in place of `proxyHeaders.forwardedClientCert`
   * (default `SANITIZE_SET`; istio pilot/pkg/networking/core/gateway.go).
   */
  readonly gatewayForwardClientCert: ForwardClientCert;
  /** `defaultConfig.proxyHeaders`: which of Envoy's own headers the proxy adds. */
  readonly proxyHeaders: ProxyHeaders;
  /** defaultConfig.tracing etc. kept whole for later consumers. */
  readonly defaultConfig: Readonly<Record<string, unknown>>;
}

/**
 * ProxyConfig `proxyHeaders` (istio/api mesh/v1alpha1/proxy.proto ProxyHeaders): `true`
 * is Istio's default, the header is added.
 */
export interface ProxyHeaders {
  /**
   * `envoyDebugHeaders.disabled: true` turns on the router's `suppress_envoy_headers`
   * (istio pilot/pkg/networking/core/listener_builder.go, BuildRouterFilter): no
   * `x-envoy-upstream-service-time` on responses, `x-envoy-overloaded` on an overflow reply,
   * `x-envoy-expected-rq-timeout-ms` or `x-envoy-original-path` on upstream requests.
   */
  readonly envoyDebugHeaders: boolean;
  /** `attemptCount.disabled: true`: no `x-envoy-attempt-count` on upstream requests. */
  readonly attemptCount: boolean;
  /**
   * The `server` response header, as the connection manager's `server_name` with
   * `OVERWRITE` (istio pilot/pkg/networking/util/proxy_headers.go): `istio-envoy` on the
   * responses a workload serves, `envoy` on the responses its calls out get back, or
   * `server.value` on both. `server.disabled: true` is `PASS_THROUGH` (null): the
   * application's and the upstream's own header, or none.
   */
  readonly server: ServerHeaderNames | null;
  /** `requestId.disabled: true`: no `x-request-id` generated for a request that has none. */
  readonly requestId: boolean;
  /** `forwardedClientCert` for inbound: how `X-Forwarded-Client-Cert` is forwarded (default `APPEND_FORWARD`). */
  readonly forwardedClientCert: ForwardClientCert;
  /** `setCurrentClientCertDetails`: which details the XFCC element carries. */
  readonly clientCertDetails: ClientCertDetails;
  /**
   * `metadataExchangeHeaders.mode`: `PROPAGATE` (Istio's default, UNDEFINED in the proto)
   * sends `x-envoy-peer-metadata` and `-id` on every HTTP call out; `IN_MESH` not to a
   * MESH_EXTERNAL service or through the PassthroughCluster (istio proxy_headers.go
   * SkipIstioMXHeaders, peer_metadata `skip_external_clusters`).
   */
  readonly metadataExchange: MetadataExchangeMode;
  /**
   * `xForwardedPort.enabled`: the connection manager's `append_x_forwarded_port`; a request
   * without `x-forwarded-port` gets the port its client connected to (default off).
   */
  readonly xForwardedPort: boolean;
  /**
   * `xForwardedHost.enabled`: `append_x_forwarded_host` on routes with a `rewrite`; an
   * authority rewrite appends the replaced Host to `x-forwarded-host` (default off).
   */
  readonly xForwardedHost: boolean;
}

/** ProxyHeaders.MetadataExchangeMode; `PROPAGATE` stands for the proto's UNDEFINED. */
export type MetadataExchangeMode = 'PROPAGATE' | 'IN_MESH';

/** The `server` header's value on each side; see ProxyHeaders.server. */
export interface ServerHeaderNames {
  readonly inbound: string;
  readonly outbound: string;
}

/** Envoy's ForwardClientCertDetails (http_connection_manager.proto), as Istio's meshConfig names them. */
export type ForwardClientCert =
  'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

/** Every ForwardClientCert mode, in the proto's order. */
export const FORWARD_CLIENT_CERT_MODES: readonly ForwardClientCert[] = Object.freeze([
  'SANITIZE',
  'FORWARD_ONLY',
  'APPEND_FORWARD',
  'SANITIZE_SET',
  'ALWAYS_FORWARD_ONLY',
]);

/**
 * `setCurrentClientCertDetails`: Istio's sidecar default is Subject, URI and DNS on, Cert
 * and Chain off (pilot/pkg/networking/core/listener_inbound.go).
 */
export interface ClientCertDetails {
  readonly subject: boolean;
  readonly uri: boolean;
  readonly dns: boolean;
  readonly cert: boolean;
  readonly chain: boolean;
}

export const DEFAULT_PROXY_HEADERS: ProxyHeaders = Object.freeze({
  envoyDebugHeaders: true,
  attemptCount: true,
  server: Object.freeze({ inbound: 'istio-envoy', outbound: 'envoy' }),
  requestId: true,
  forwardedClientCert: 'APPEND_FORWARD' as const,
  clientCertDetails: Object.freeze({ subject: true, uri: true, dns: true, cert: false, chain: false }),
  metadataExchange: 'PROPAGATE' as const,
  xForwardedPort: false,
  xForwardedHost: false,
});

export const DEFAULT_MESH_CONFIG: MeshConfig = Object.freeze({
  rootNamespace: 'istio-system',
  // Istio's default MeshConfig (pkg/config/mesh/mesh.go): locality load balancing on.
  localityLbSetting: Object.freeze({ enabled: true }),
  zoneAwareLbSetting: null,
  trustDomain: 'cluster.local',
  trustDomainAliases: Object.freeze([]),
  pathNormalization: 'BASE',
  outboundTrafficPolicy: 'ALLOW_ANY',
  enableTracing: true,
  enableAutoMtls: true,
  protocolDetectionTimeoutMs: 0,
  tracingSampling: 1,
  extensionProviders: Object.freeze([]),
  defaultProviders: Object.freeze({
    tracing: Object.freeze([]),
    metrics: Object.freeze(['prometheus']),
    accessLogging: Object.freeze([]),
  }),
  meshMTLS: Object.freeze({ minVersion: 'TLSv1.2' as const, cipherSuites: Object.freeze([]) }),
  caCertificates: Object.freeze([]),
  tlsDefaults: Object.freeze({ ecdhCurves: Object.freeze([]), cipherSuites: Object.freeze([]) }),
  accessLogFile: '',
  accessLogEncoding: 'TEXT',
  accessLogFormat: '',
  numTrustedProxies: 0,
  gatewayForwardClientCert: 'SANITIZE_SET',
  proxyHeaders: DEFAULT_PROXY_HEADERS,
  defaultConfig: Object.freeze({}),
});
