import type { RbacStatsSink } from '../inbound/authz/rbac-stats-sink.js';
import { createEnvoyRbacStats } from './metrics/envoy-rbac-stats.js';
import { Registry } from 'prom-client';
import type { MeshConfig } from '../config/mesh-config.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { UpstreamEventSink } from '../outbound/upstream/events.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { createAccessLogFromSpec, type AccessLog } from './access-log/access-log.js';
import { combineAccessLogs } from './access-log/access-log-set.js';
import { resolveAccessLogs, type AccessLogSpec, type OtelAccessLogSpec } from './config/access-log-config.js';
import { createOtelAccessLog } from './otel-access-log/otel-access-log.js';
import { resolveMetricsConfig, type ResolvedMetricsConfig } from './config/metrics-config.js';
import { applicableTelemetries } from './config/telemetry-scope.js';
import { resolveTracing, type ResolvedTracing } from './config/tracing-config.js';
import { inboundServiceLookup } from './inbound-services.js';
import { createMeshMetrics, type MeshMetrics } from './metrics/istio-metrics.js';
import type { DestinationService } from './metrics/metric-event.js';
import { createMeshletMetrics, type MeshletMetrics } from './metrics/meshlet-metrics.js';
import { registerIstioBuild } from './metrics/istio-build.js';
import { upstreamEventMetrics } from './metrics/upstream-events.js';
import type { MeshTelemetry, MeshTelemetryOptions, TelemetrySnapshot } from './mesh-telemetry.js';
import { createMeshTracing, type MeshTracing } from './tracing/mesh-tracing.js';
import { SharedProcessor } from './tracing/shared-processor.js';

type AnyLogSpec = AccessLogSpec | OtelAccessLogSpec;

/** The logs each direction writes: file logs, then OTel logs. */
type DirectionLogs = { readonly client: readonly AnyLogSpec[]; readonly server: readonly AnyLogSpec[] };

/** What makes two access logs different: a file log's output and format, an OTel log's collector and record. */
const specKey = (s: AnyLogSpec): string =>
  'kind' in s
    ? JSON.stringify(['otel', s.service, s.port, s.logName, s.text, s.labels, s.filter])
    : JSON.stringify([s.path, s.encoding, s.text, s.json, s.filter, s.omitEmptyValues]);

/** How long a replaced TracerProvider lives on after a reload, so requests in flight end their spans on it. */
const RETIRE_AFTER_MS = 30_000;

type Snapshot = TelemetrySnapshot;

/**
 * The telemetry bundle. Its metrics, tracing and access logs are rebuilt by `reload`
 * when a new snapshot changes what they resolve to; the registry, its series and
 * meshlet's state metrics carry over. Per-request readers (`metrics`, `tracing`,
 * `accessLog`) see the new parts from the next request on.
 */
export class ReloadableTelemetry implements MeshTelemetry {
  readonly registry: Registry;
  readonly meshlet: MeshletMetrics;
  readonly onUpstreamEvent: UpstreamEventSink;
  readonly rbacStats: RbacStatsSink;
  readonly workload: WorkloadIdentity;
  readonly trustDomain: string;
  readonly cluster: string;
  readonly service: string | null;
  readonly requestContext: boolean;
  readonly clock: Clock;
  metrics: MeshMetrics;
  tracing: MeshTracing;
  accessLog: { readonly client: AccessLog; readonly server: AccessLog };
  readonly #options: MeshTelemetryOptions;
  readonly #env: NodeJS.ProcessEnv;
  readonly #processors: readonly SharedProcessor[] | undefined;
  readonly #logs = new Map<string, AccessLog>();
  readonly #retired = new Set<MeshTracing>();
  #keys: { metrics: string; tracing: string; logs: string };
  #inboundService: (port: number) => DestinationService;
  #closing: Promise<void> | null = null;

  constructor(options: MeshTelemetryOptions) {
    this.#options = options;
    this.#env = options.env ?? process.env;
    this.#processors = options.spanProcessors?.map((p) => new SharedProcessor(p));
    this.registry = options.registry ?? new Registry();
    this.meshlet = createMeshletMetrics({ registry: this.registry });
    registerIstioBuild(this.registry);
    this.onUpstreamEvent = upstreamEventMetrics(this.meshlet);
    this.workload = options.workload;
    this.trustDomain = options.meshConfig.trustDomain;
    this.cluster = options.cluster ?? 'Kubernetes';
    this.service = options.service ?? null;
    this.requestContext = options.requestContext ?? true;
    this.clock = options.clock ?? systemClock;
    const snapshot = options.snapshot ?? { resources: [], meshConfig: options.meshConfig };
    const r = this.#resolve(snapshot, options.meshConfig);
    this.metrics = this.#buildMetrics(snapshot, r.metrics, undefined);
    this.tracing = this.#buildTracing(r.tracing);
    this.accessLog = this.#buildLogs(r.logs);
    this.#keys = r.keys;
    this.#inboundService = this.#buildInboundService(snapshot);
    this.rbacStats = createEnvoyRbacStats(this.registry, (port) => this.#inboundService(port));
  }

  inboundService(port: number): DestinationService {
    return this.#inboundService(port);
  }

  /**
   * Apply a new config snapshot (a good reload): parts whose resolved config changed are
   * rebuilt. A replaced TracerProvider of meshlet's own is shut down (flushed)
   * RETIRE_AFTER_MS later; access-log files no longer named are flushed and closed.
   */
  reload(snapshot: Snapshot): void {
    if (this.#closing !== null) return;
    const r = this.#resolve(snapshot, snapshot.meshConfig);
    if (r.keys.metrics !== this.#keys.metrics)
      this.metrics = this.#buildMetrics(snapshot, r.metrics, this.metrics);
    if (r.keys.tracing !== this.#keys.tracing) {
      const old = this.tracing;
      this.tracing = this.#buildTracing(r.tracing, snapshot.meshConfig);
      this.#retire(old);
    }
    if (r.keys.logs !== this.#keys.logs) {
      this.accessLog = this.#buildLogs(r.logs);
      const used = new Set([...r.logs.client, ...r.logs.server].map(specKey));
      for (const [key, log] of this.#logs) {
        if (used.has(key)) continue;
        this.#logs.delete(key);
        void log.close();
      }
    }
    this.#keys = r.keys;
    this.#inboundService = this.#buildInboundService(snapshot);
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const tracings = [...this.#retired, this.tracing];
    this.#retired.clear();
    this.#closing = Promise.all([
      ...[...this.#logs.values()].map((l) => l.close()),
      ...tracings.map((t) => t.shutdown()),
    ])
      .then(() => Promise.all((this.#processors ?? []).map((p) => p.inner.shutdown())))
      .then(
        () => undefined,
        () => undefined,
      );
    return this.#closing;
  }

  #resolve(snapshot: Snapshot, meshConfig: MeshConfig) {
    const scoped = applicableTelemetries(snapshot, this.workload);
    const metrics = resolveMetricsConfig(scoped, meshConfig.defaultProviders.metrics, meshConfig);
    const tracing = resolveTracing(scoped, meshConfig, this.#env);
    const client = resolveAccessLogs(scoped, meshConfig, 'CLIENT');
    const server = resolveAccessLogs(scoped, meshConfig, 'SERVER');
    const logs: DirectionLogs = {
      client: [...client.logs, ...client.otel],
      server: [...server.logs, ...server.otel],
    };
    const keys = {
      metrics: JSON.stringify([metrics, meshConfig.trustDomain]),
      tracing: JSON.stringify([tracing, meshConfig.trustDomain, meshConfig.proxyHeaders.requestId]),
      logs: JSON.stringify([logs.client.map(specKey), logs.server.map(specKey)]),
    };
    return { metrics, tracing, logs, keys };
  }

  #buildMetrics(snapshot: Snapshot, config: ResolvedMetricsConfig, previous: MeshMetrics | undefined) {
    const o = this.#options;
    return createMeshMetrics({
      registry: this.registry,
      workload: this.workload,
      meshConfig: snapshot.meshConfig,
      telemetry: config,
      cluster: this.cluster,
      ...(o.buckets === undefined ? {} : { buckets: o.buckets }),
      ...(o.hasCertificate === undefined ? {} : { hasCertificate: o.hasCertificate }),
      ...(previous === undefined ? {} : { previous }),
    });
  }

  #buildInboundService(snapshot: Snapshot): (port: number) => DestinationService {
    return inboundServiceLookup({
      workload: this.workload,
      platform: snapshot.platform ?? [],
      resources: snapshot.resources,
      service: this.service,
    });
  }

  #buildTracing(config: ResolvedTracing, meshConfig: MeshConfig = this.#options.meshConfig): MeshTracing {
    const o = this.#options;
    return createMeshTracing({
      workload: this.workload,
      meshConfig,
      tracing: config,
      clusterId: this.cluster,
      env: this.#env,
      // The SERVER span is named after the port's inbound service, which follows a reload.
      inboundService: (port) => this.#inboundService(port),
      ...(o.tracerProvider === undefined ? {} : { tracerProvider: o.tracerProvider }),
      ...(this.#processors === undefined ? {} : { spanProcessors: this.#processors }),
      ...(o.otlp === undefined ? {} : { otlp: o.otlp }),
      ...(o.propagation === undefined ? {} : { propagation: o.propagation }),
    });
  }

  #buildLogs(specs: DirectionLogs) {
    const open = (list: readonly AnyLogSpec[]): AccessLog =>
      combineAccessLogs(
        list.map((spec) => {
          const key = specKey(spec);
          let log = this.#logs.get(key);
          if (log === undefined) {
            log =
              'kind' in spec
                ? createOtelAccessLog(spec, { clock: this.clock })
                : createAccessLogFromSpec(spec, this.#options.accessLogSink ?? {});
            this.#logs.set(key, log);
          }
          return log;
        }),
      );
    return Object.freeze({ client: open(specs.client), server: open(specs.server) });
  }

  #retire(old: MeshTracing): void {
    if (!old.ownsProvider) return;
    this.#retired.add(old);
    setTimeout(() => {
      // close() may have shut it down already.
      if (this.#retired.delete(old)) void old.shutdown();
    }, RETIRE_AFTER_MS).unref();
  }
}
