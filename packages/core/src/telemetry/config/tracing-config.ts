import type { MeshConfig } from '../../config/mesh-config.js';
import type { CustomTag } from '../../config/schema/telemetry.js';
import type { ScopedTelemetry } from './telemetry-scope.js';
import { isTraceExport, resolveTraceExport, type TraceExport } from './trace-export-config.js';

/** Tracing for one direction (CLIENT = outbound, SERVER = inbound). */
export interface TracingSpec {
  /** Percent of new traces sampled, 0-100. A parent's decision always wins. */
  readonly samplingPercent: number;
  /** Where the percentage came from, for `meshlet explain` and the admin endpoint. */
  readonly samplingSource: 'telemetry' | 'meshConfig' | 'default';
  /** `disableSpanReporting`. */
  readonly disabled: boolean;
  readonly customTags: Readonly<Record<string, CustomTag>>;
  /** `disableContextPropagation`. */
  readonly propagate: boolean;
  /** `useRequestIdForTraceSampling` (default true): a new trace's decision comes from `x-request-id`. */
  readonly useRequestId: boolean;
  /** `enableIstioTags` (default true): spans carry `istio.*` tags. */
  readonly istioTags: boolean;
  /**
   * The provider in force: the last Telemetry level naming one (`providers[0].name`),
   * else meshConfig `defaultProviders.tracing[0]`, else null (spans go to the
   * process's TracerProvider, exported per `OTEL_*`).
   */
  readonly provider: string | null;
  /** Where meshlet's own TracerProvider exports these spans (`provider`'s endpoint), or null. */
  readonly export: TraceExport | null;
  /** Why `provider` is not exported to, or null. */
  readonly providerProblem: string | null;
}

export interface ResolvedTracing {
  readonly client: TracingSpec;
  readonly server: TracingSpec;
}

/** Istio's default `PILOT_TRACE_SAMPLING` (pilot/pkg/features/telemetry.go). */
export const DEFAULT_SAMPLING_PERCENT = 1;

/**
 * Merge Telemetry `tracing` over meshConfig as istiod does
 * (istio `pilot/pkg/model/telemetry.go` Tracing; `networking/core/tracing.go`):
 * entries apply root → namespace → workload, each for its `match.mode`, field by field
 * (shallow for customTags). Sampling: Telemetry `randomSamplingPercentage`, else
 * meshConfig `defaultConfig.tracing.sampling`, else 1 %.
 */
export function resolveTracing(
  scoped: readonly ScopedTelemetry[],
  mesh: Pick<MeshConfig, 'tracingSampling' | 'defaultConfig'> &
    Partial<Pick<MeshConfig, 'defaultProviders' | 'extensionProviders' | 'enableTracing'>>,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedTracing {
  const meshSampling = meshTracingSampling(mesh);
  // istio pilot/pkg/model/telemetry.go Tracing: "for now, use only the first provider".
  const defaultProvider = mesh.defaultProviders?.tracing[0] ?? null;
  type Acc = {
    pct: number | null;
    disabled: boolean;
    tags: Readonly<Record<string, CustomTag>>;
    propagate: boolean;
    provider: string | null;
    useRequestId: boolean;
    istioTags: boolean;
  };
  const acc = (): Acc => ({
    pct: null,
    disabled: false,
    tags: {},
    propagate: true,
    provider: defaultProvider,
    // istio pilot/pkg/model/telemetry.go: both default to true.
    useRequestId: true,
    istioTags: true,
  });
  const client = acc();
  const server = acc();
  // No Telemetry tracing and no default provider: Istio falls back to meshConfig, where
  // enableTracing: false means no tracing at all (pilot/pkg/networking/core/tracing.go).
  const legacyOff =
    mesh.enableTracing === false &&
    defaultProvider === null &&
    scoped.every((s) => (s.resource.spec.tracing ?? []).length === 0);
  if (legacyOff) {
    client.disabled = true;
    server.disabled = true;
  }
  for (const s of scoped) {
    for (const t of s.resource.spec.tracing ?? []) {
      const mode = t.match?.mode;
      const specs = mode === 'CLIENT' ? [client] : mode === 'SERVER' ? [server] : [client, server];
      for (const a of specs) {
        const name = t.providers?.[0]?.name;
        if (name !== undefined) a.provider = name;
        if (t.disableSpanReporting !== undefined && t.disableSpanReporting !== null)
          a.disabled = t.disableSpanReporting;
        if (t.customTags !== undefined) a.tags = t.customTags;
        if (t.randomSamplingPercentage !== undefined && t.randomSamplingPercentage !== null)
          a.pct = t.randomSamplingPercentage;
        if (t.disableContextPropagation !== undefined && t.disableContextPropagation !== null)
          a.propagate = !t.disableContextPropagation;
        if (t.useRequestIdForTraceSampling !== undefined && t.useRequestIdForTraceSampling !== null)
          a.useRequestId = t.useRequestIdForTraceSampling;
        if (t.enableIstioTags !== undefined && t.enableIstioTags !== null) a.istioTags = t.enableIstioTags;
      }
    }
  }
  const done = (a: Acc): TracingSpec => {
    const target = resolveTraceExport({ extensionProviders: mesh.extensionProviders ?? [] }, a.provider, env);
    const problem = target === null || isTraceExport(target) ? null : target;
    return Object.freeze({
      samplingPercent: a.pct ?? meshSampling.percent,
      samplingSource: a.pct !== null ? 'telemetry' : meshSampling.source,
      // "If no provider is configured (and retrieved) for the tracing specs, then we
      // will disable the configuration" (istio pilot/pkg/model/telemetry.go Tracing).
      disabled: a.disabled || problem?.disablesReporting === true,
      customTags: Object.freeze({ ...a.tags }),
      propagate: a.propagate,
      useRequestId: a.useRequestId,
      istioTags: a.istioTags,
      provider: a.provider,
      export: isTraceExport(target) ? target : null,
      providerProblem: problem?.problem ?? null,
    });
  };
  return Object.freeze({ client: done(client), server: done(server) });
}

function meshTracingSampling(mesh: Pick<MeshConfig, 'tracingSampling' | 'defaultConfig'>): {
  percent: number;
  source: 'meshConfig' | 'default';
} {
  const tracing = mesh.defaultConfig['tracing'];
  const explicit =
    typeof tracing === 'object' &&
    tracing !== null &&
    typeof (tracing as Record<string, unknown>)['sampling'] === 'number';
  const pct = mesh.tracingSampling;
  // Out-of-range values fall back to Istio's default, as PILOT_TRACE_SAMPLING does.
  if (!(pct >= 0 && pct <= 100)) return { percent: DEFAULT_SAMPLING_PERCENT, source: 'default' };
  return { percent: pct, source: explicit ? 'meshConfig' : 'default' };
}
