import type { RbacStatsSink } from '../inbound/authz/rbac-stats-sink.js';
import type { TracerProvider } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Registry } from 'prom-client';
import type { MeshConfig } from '../config/mesh-config.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { UpstreamEventSink } from '../outbound/upstream/events.js';
import type { Clock } from '../runtime/clock.js';
import type { AccessLog } from './access-log/access-log.js';
import type { SinkOptions } from './access-log/sink.js';
import type { MeshMetrics } from './metrics/istio-metrics.js';
import type { DestinationService } from './metrics/metric-event.js';
import type { MeshletMetrics } from './metrics/meshlet-metrics.js';
import { ReloadableTelemetry } from './reloadable-telemetry.js';
import type { MeshTracing } from './tracing/mesh-tracing.js';
import type { PropagationFormat } from './tracing/propagation.js';
import type { OtlpOptions } from './tracing/tracer-provider.js';

/** The parts of a config snapshot telemetry reads; `platform` holds the Kubernetes Services. */
export type TelemetrySnapshot = Pick<ConfigSnapshot, 'resources' | 'meshConfig'> &
  Partial<Pick<ConfigSnapshot, 'platform'>>;

/** What `createMeshTelemetry` needs: the workload, its config, and where to report. */
export interface MeshTelemetryOptions {
  /** The local workload: `source_*` on outbound calls, `destination_*` on inbound requests. */
  readonly workload: WorkloadIdentity;
  /**
   * Telemetry resources (metrics overrides, tracing, accessLogging) are read from here, and
   * the Kubernetes Services selecting the workload (inbound `destination_service`).
   */
  readonly snapshot?: TelemetrySnapshot;
  /** The effective meshConfig (trust domain, `accessLogFile`, `defaultConfig.tracing.sampling`). */
  readonly meshConfig: MeshConfig;
  /** Where metrics are registered; a new Registry when absent. */
  readonly registry?: Registry;
  /** The application's TracerProvider; else the global one if registered; else meshlet's own. */
  readonly tracerProvider?: TracerProvider;
  /** Extra processors for meshlet's own provider (tests: SimpleSpanProcessor over InMemorySpanExporter). */
  readonly spanProcessors?: readonly SpanProcessor[];
  /** OTLP export; `false` never exports. Default: from `OTEL_EXPORTER_OTLP_*`. */
  readonly otlp?: OtlpOptions | false;
  /** Injected trace header formats; default `OTEL_PROPAGATORS`, else W3C + B3 multi. */
  readonly propagation?: readonly PropagationFormat[];
  /** Istio cluster ID (`source_cluster`/`destination_cluster`, `istio.cluster_id`); default `Kubernetes`. */
  readonly cluster?: string;
  /** Whether the workload has a certificate (its principal is `unknown` without one). Default true. */
  readonly hasCertificate?: boolean;
  /** Histogram buckets (`sidecar.istio.io/statsHistogramBuckets`); Envoy's defaults otherwise. */
  readonly buckets?: readonly number[];
  /**
   * `destination_service` of inbound requests. Default: the oldest snapshot Service
   * selecting the workload on the request's port, else `<canonical service>.<ns>.svc.cluster.local`.
   */
  readonly service?: string;
  /** Access log sink options (a stream instead of the file, buffer cap). */
  readonly accessLogSink?: SinkOptions;
  /** Durations are measured on it; default the system clock. */
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Run each inbound request's handling in an async-local request context (default
   * true), so `mesh.fetch` in a handler continues the trace and forwards `x-request-id`
   * with no code. `false` is for services that make no outbound calls through the mesh
   * or carry the context themselves: on Node 20 every AsyncLocalStorage adds a hook to
   * every async resource of the process (0-3 µs per request of a Fastify hello world in
   * bench/inbound-fastify.js; the hook runs once per promise, timer or socket a handler
   * creates). Metrics, spans and access logs are unchanged.
   */
  readonly requestContext?: boolean;
}

/**
 * One workload's telemetry: Istio's standard metrics, meshlet's state metrics,
 * OpenTelemetry tracing and the client/server access logs, built once from the
 * snapshot's Telemetry resources and meshConfig. `createOutboundClient({ telemetry })`
 * and the inbound observer (`createInboundObserver`) report into it.
 */
export interface MeshTelemetry {
  readonly registry: Registry;
  readonly metrics: MeshMetrics;
  readonly meshlet: MeshletMetrics;
  readonly tracing: MeshTracing;
  /** CLIENT (outbound) and SERVER (inbound) access logs; disabled ones cost nothing. */
  readonly accessLog: { readonly client: AccessLog; readonly server: AccessLog };
  /** Pass as `createClusterManager({ onEvent })`: pool/retry overflow and outlier ejections as metrics. */
  readonly onUpstreamEvent: UpstreamEventSink;
  /** Pass as `createInboundEngine({ rbacStats })`: Envoy's RBAC filter stats (envoy-rbac-stats.ts). */
  readonly rbacStats: RbacStatsSink;
  readonly workload: WorkloadIdentity;
  readonly trustDomain: string;
  readonly cluster: string;
  /** The configured inbound `destination_service`, or null (derived per port). */
  readonly service: string | null;
  /**
   * `destination_service*` of inbound requests on a local port: the configured service,
   * else the snapshot's Service selecting the workload on that port, else the inbound
   * passthrough's (the canonical service, `InboundPassthroughCluster`). Never the Host
   * header. Follows `reload`.
   */
  inboundService(port: number): DestinationService;
  /** Whether inbound handling runs in the async-local request context (`requestContext`). */
  readonly requestContext: boolean;
  readonly clock: Clock;
  /**
   * Apply a reloaded config snapshot: Telemetry `metrics` overrides, `tracing` and
   * `accessLogging`, the meshConfig fields behind them, and the Services behind
   * `inboundService`, take effect from the next request; metric series carry over.
   * `createMesh` calls it on every good reload.
   */
  reload(snapshot: TelemetrySnapshot): void;
  /** Flush and close the access logs and shut down meshlet's own TracerProvider (not the application's). */
  close(): Promise<void>;
}

/**
 * Builds the telemetry bundle for one workload (issue #5): `istio_*` metrics with
 * Telemetry `metrics` overrides, meshlet's state metrics in the same registry,
 * tracing sampled per Telemetry `tracing` / meshConfig `defaultConfig.tracing.sampling`,
 * and access logs per Telemetry `accessLogging` or meshConfig `accessLogFile`. An
 * access log spec that applies to both directions is one log (one sink).
 * `reload(snapshot)` applies a new configuration.
 */
export function createMeshTelemetry(options: MeshTelemetryOptions): MeshTelemetry {
  return new ReloadableTelemetry(options);
}
