import type { MeshConfig } from '../../config/mesh-config.js';
import type { CustomTag } from '../../config/schema/telemetry.js';
import type { ScopedTelemetry } from './telemetry-scope.js';

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
  /** The provider named by Telemetry (`providers[0].name`), or null. */
  readonly provider: string | null;
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
  mesh: Pick<MeshConfig, 'tracingSampling' | 'defaultConfig'>,
): ResolvedTracing {
  const meshSampling = meshTracingSampling(mesh);
  type Acc = {
    pct: number | null;
    disabled: boolean;
    tags: Readonly<Record<string, CustomTag>>;
    propagate: boolean;
    provider: string | null;
  };
  const client: Acc = { pct: null, disabled: false, tags: {}, propagate: true, provider: null };
  const server: Acc = { pct: null, disabled: false, tags: {}, propagate: true, provider: null };
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
      }
    }
  }
  const done = (a: Acc): TracingSpec =>
    Object.freeze({
      samplingPercent: a.pct ?? meshSampling.percent,
      samplingSource: a.pct !== null ? 'telemetry' : meshSampling.source,
      disabled: a.disabled,
      customTags: Object.freeze({ ...a.tags }),
      propagate: a.propagate,
      provider: a.provider,
    });
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
