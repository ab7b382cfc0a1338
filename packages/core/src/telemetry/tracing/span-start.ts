// Starting one span, SERVER or CLIENT: under meshlet's own provider and mesh sampler the
// sampling decision comes first, and a span that would record nothing never reaches the SDK.
import type { Context, Span, SpanKind, Tracer } from '@opentelemetry/api';
import type { MeshSampler } from './sampler.js';
import type { TracerProviderSetup } from './tracer-provider.js';
import { knownUnsampledSpan, sampledNonRecordingSpan, type MeshIdGenerator } from './unsampled.js';

/** Starts one span; see `createStartSpan`. */
export type StartSpan = (
  name: string,
  kind: SpanKind,
  parent: Context,
  percent: number,
  drawn?: boolean,
  forced?: boolean,
) => Span;

/**
 * The span start of one `MeshTracing`. With `meshSampled` (meshlet's own provider and the
 * mesh sampler), meshlet decides sampling first (same rule as the SDK's) and skips the SDK
 * for a span that would record nothing: at Istio's 1 % default, 99 of 100 requests never
 * build an SDK span.
 */
export function createStartSpan(
  meshSampled: boolean,
  ids: MeshIdGenerator,
  setup: TracerProviderSetup,
  sampler: MeshSampler,
  tracer: Tracer,
): StartSpan {
  /**
   * `drawn`: the trace id is preset and sampling was decided (`forced` when the decision
   * came from x-request-id, which the mesh sampler must then follow).
   */
  const startSpan = (
    name: string,
    kind: SpanKind,
    parent: Context,
    percent: number,
    drawn = false,
    forced = false,
  ): Span => {
    const known = meshSampled && !drawn ? knownUnsampledSpan(parent, percent, ids) : null;
    if (known !== null) return known;
    if (meshSampled && !setup.records) return sampledNonRecordingSpan(parent, ids);
    try {
      if (forced) sampler.rootDecision = true;
      return tracer.startSpan(name, { kind }, parent);
    } finally {
      // A preset the SDK did not consume (suppressed tracing) must not leak to the next trace.
      ids.preset = null;
      sampler.rootDecision = null;
    }
  };
  return startSpan;
}
