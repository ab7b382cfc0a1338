// Errors
export { MeshletError, isMeshletError } from './errors/meshlet-error.js';
export { ERROR_CODES, type ErrorCode } from './errors/codes.js';

// Config: load, validate, watch
export { loadConfig, loadConfigText, type LoadOptions, type TextSource } from './config/load.js';
export { watchConfig, ConfigWatcher } from './config/watch.js';
export type { WatchOptions, WatchedConfig, ConfigWatcherEvents } from './config/watch.js';
export { formatDiagnostic, formatPath, hasErrors } from './config/diagnostic.js';
export type { Diagnostic, DiagnosticLevel, FieldPath, ResourceRef } from './config/diagnostic.js';
export { DIAGNOSTIC_CODES } from './config/diagnostic-codes.js';
export type { Resource, ResourceMetadata, Origin } from './config/resource.js';
export type { ConfigSnapshot, PlatformResource } from './config/snapshot.js';
export { DEFAULT_MESH_CONFIG } from './config/mesh-config.js';
export type { MeshConfig, ExtensionProvider, PathNormalization } from './config/mesh-config.js';

// Compile: the per-workload plan
export { compilePlan, type CompilePlanOptions } from './compile/compile-plan.js';
export {
  DEFAULT_ISTIOD_FEATURES,
  istiodFeaturesFromEnv,
  type IstiodFeatures,
} from './compile/istiod-features.js';
export type { WorkloadIdentity } from './compile/workload.js';
export type {
  MeshPlan,
  OutboundPlan,
  GatewayPlan,
  GatewayServerInfo,
  VirtualHost,
  CompiledRoute,
  CompiledMatch,
  RouteAction,
  RouteDestination,
  RouteRequest,
  RetryPolicy,
  Fault,
  Mirror,
  Rewrite,
  CorsPolicy,
  HeaderPolicy,
  HeaderOperations,
  Cluster,
  Service,
  ServicePort,
  Endpoint,
  VirtualServiceConflict,
} from './compile/plan-types.js';
export type { ClusterPolicy } from './compile/traffic-policy.js';
export type {
  InboundPlan,
  MtlsMode,
  PeerAuthenticationPlan,
  JwtRulePlan,
  AuthorizationPlan,
  AuthorizationPolicyPlan,
  RateLimitPlan,
} from './compile/inbound-types.js';

// Analyze: Istio's analyzers
export { analyze, type AnalyzeOptions } from './analyze/analyze.js';
export type { AnalysisMessage } from './analyze/message.js';

// Inbound request context (filled by the adapters)
export { ANONYMOUS } from './inbound/request-context.js';
export type { MeshletRequestContext, PeerIdentity, RequestAuth } from './inbound/request-context.js';

// Inbound: the framework-free engine contract and node helpers the adapters use
export { decideThen, type InboundHandle, type InboundObservation } from './inbound/handle.js';
export { decideNodeRequest } from './inbound/node-decide.js';
export { writeDenial } from './inbound/node-deny.js';
export { createInboundEngine, type InboundEngineOptions } from './inbound/engine.js';
export type {
  InboundEngine,
  InboundRequest,
  InboundDecision,
  DenyReason,
  ResponseHeaders,
} from './inbound/engine-types.js';
export type {
  ExtAuthzProvider,
  ExtAuthzHttpProvider,
  ExtAuthzGrpcProvider,
} from './inbound/authz/ext-authz-provider.js';
export type { ExtAuthzResult } from './inbound/authz/ext-authz-result.js';
export type { BodySource } from './inbound/request-body.js';
export { toInboundRequest, nodeConnectionOf, type NodeConnectionInfo } from './inbound/node-request.js';
export { inboundHandleFrom } from './inbound/node-handle.js';
export { admitNodeRequest, applyRequestHeaderEdits } from './inbound/node-headers.js';
export {
  createJwtAuthenticator,
  CLOCK_SKEW_SECONDS,
  type JwtAuthenticatorOptions,
} from './inbound/jwt/authenticator.js';
export type { JwtAuthenticator, JwtResult } from './inbound/jwt/types.js';

// Outbound: upstream clusters, transports and the runtime contracts
export { createClusterManager, type ClusterManagerOptions } from './outbound/upstream/cluster-manager.js';
export type {
  ClusterManager,
  UpstreamCluster,
  UpstreamHost,
  UpstreamClusterStats,
  AttemptOutcome,
  Admission,
  PoolTicket,
} from './outbound/upstream/types.js';
export { TransportError } from './outbound/transport.js';
export type {
  Transport,
  TransportRequest,
  TransportResponse,
  TransportTls,
  TransportFailure,
  TryAbort,
  PoolReadyListener,
} from './outbound/transport.js';
export type { MeshletInfo, ResponseFlag } from './outbound/meshlet-info.js';
export { systemClock, createManualClock, type Clock, type ManualClock } from './runtime/clock.js';
export { systemRandom, seededRandom, type Random } from './runtime/random.js';

// The mesh: createMesh and the outbound client it wraps
export { createMesh } from './mesh/create-mesh.js';
export type {
  Mesh,
  MeshOptions,
  MeshEvents,
  MeshReloadEvent,
  MeshRejectedEvent,
  GatewayListenerOptions,
} from './mesh/types.js';
export type { GatewayServerOptions } from './gateway/gateway-server.js';
export type { GatewayListener } from './gateway/gateway-listener.js';
export type { AppConnectionTarget } from './outbound/app-connection.js';
export type { GatewayTcpServerOptions } from './gateway/listen-gateway-tcp.js';
export type { MeshConnectTarget } from './outbound/tcp-connect.js';
export type { GatewayCredentials } from './gateway/gateway-tls.js';
export type { GatewayTlsEvent } from './gateway/gateway-tls-watch.js';
export type { ClientTlsEvent } from './mesh/client-credentials.js';
export type { TransportOption } from './mesh/transport-option.js';
export {
  createOutboundClient,
  type OutboundClient,
  type OutboundClientOptions,
  type MeshFetchInit,
} from './outbound/client.js';
export type { MeshResponse } from './outbound/response.js';
export type {
  ClusterCaller,
  ClusterEndpoint,
  ClusterRequest,
  ClusterResponse,
} from './outbound/cluster-call.js';
export type { ResolveDns } from './outbound/endpoints-dns.js';
export { createGotTransport } from './outbound/transports/got-transport.js';
export { createUndiciTransport } from './outbound/transports/undici-transport.js';
export {
  createMemoryTransport,
  type MemoryTransport,
  type MemoryHandler,
  type MemoryReply,
} from './outbound/transports/memory-transport.js';

// Identity: SPIFFE, development CA, mounted certificates, the mTLS-aware server
export { parseSpiffeId, formatSpiffeId } from './identity/spiffe.js';
export {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
  type DevCaOptions,
  type IssueOptions,
} from './identity/dev-ca.js';
export { writeWorkloadCertificates, readCa, writeCa } from './identity/cert-files.js';
export { loadCertDir, checkCertificates, staticCertSource } from './identity/cert-source.js';
export { watchCertDir, type CertWatcher, type CertEvent } from './identity/cert-watcher.js';
export type { CertSource, WorkloadCertificates } from './identity/types.js';
export {
  createMeshServer,
  MeshServer,
  type MeshServerOptions,
  type ConnectionRefusal,
  type RefusalReason,
} from './inbound/server/mesh-server.js';
export {
  takeUpgradeDecision,
  upgradeGuard,
  type UpgradeGuard,
  type UpgradeGuardOptions,
  type UpgradeListener,
} from './inbound/server/upgrade-guard.js';
export { isUpgradeRequest } from './inbound/normalize/upgrade-check.js';
export { getPeer, peerFromSocket } from './inbound/server/peer-registry.js';
export {
  createMeshTcpServer,
  MeshTcpServer,
  type MeshTcpServerOptions,
  type MeshTcpHandler,
  type MeshTcpConnectionInfo,
  type ConnectionDenial,
} from './inbound/tcp/mesh-tcp-server.js';
export type { ConnectionDecision } from './inbound/tcp/connection-authz.js';

// Admin server (Envoy's 15000 / Istio's 15020)
export { createAdminServer, type AdminServer, type AdminServerOptions } from './admin/admin-server.js';
export { hashConfigSources } from './config/watch.js';
export { MESHLET_VERSION } from './version.js';

// Telemetry: Istio metrics, OpenTelemetry tracing, access logs
export {
  createMeshTelemetry,
  type MeshTelemetry,
  type MeshTelemetryOptions,
} from './telemetry/mesh-telemetry.js';
export {
  createMeshMetrics,
  ISTIO_METRIC_NAMES,
  type MeshMetrics,
  type MeshMetricsOptions,
} from './telemetry/metrics/istio-metrics.js';
export { createMeshletMetrics, type MeshletMetrics } from './telemetry/metrics/meshlet-metrics.js';
export type { MetricEvent } from './telemetry/metrics/metric-event.js';
export {
  createMeshTracing,
  type MeshTracing,
  type MeshTracingOptions,
} from './telemetry/tracing/mesh-tracing.js';
export {
  runWithInboundContext,
  currentContext,
  type MeshRequestContext,
} from './telemetry/tracing/request-context.js';
export { createAccessLog, type AccessLog, type AccessLogOptions } from './telemetry/access-log/access-log.js';
export { createInboundObserver, observedHandle, type ClientTopology } from './inbound/node-observe.js';
