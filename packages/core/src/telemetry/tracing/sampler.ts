import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';

/**
 * The mesh sampler: a parent's sampled flag always wins (Envoy honours an incoming
 * `traceparent`/`x-b3-sampled` decision); a new trace is sampled at the SERVER
 * percentage for inbound spans and the CLIENT percentage for outbound ones (Telemetry
 * `match.mode`). Ratio sampling is by trace id, so every hop agrees.
 */
export interface MeshSampler extends Sampler {
  /**
   * A decision already made for the next span that starts a trace (from `x-request-id`,
   * `sampledByRequestId`); consumed by it. Null: decide by trace id.
   */
  rootDecision: boolean | null;
}

export function createMeshSampler(percent: {
  readonly client: number;
  readonly server: number;
}): MeshSampler {
  const ratio = (p: number) => new TraceIdRatioBasedSampler(Math.min(100, Math.max(0, p)) / 100);
  const client = new ParentBasedSampler({ root: ratio(percent.client) });
  const server = new ParentBasedSampler({ root: ratio(percent.server) });
  const forced = (on: boolean) =>
    new ParentBasedSampler({ root: on ? new AlwaysOnSampler() : new AlwaysOffSampler() });
  const forcedOn = forced(true);
  const forcedOff = forced(false);
  const sampler: MeshSampler = {
    rootDecision: null,
    shouldSample(
      context: Context,
      traceId: string,
      name: string,
      kind: SpanKind,
      attributes: Attributes,
      links: Link[],
    ): SamplingResult {
      const decided = sampler.rootDecision;
      sampler.rootDecision = null;
      const by =
        decided === null ? (kind === SpanKind.SERVER ? server : client) : decided ? forcedOn : forcedOff;
      return by.shouldSample(context, traceId, name, kind, attributes, links);
    },
    toString: () => `MeshSampler{client=${percent.client}%,server=${percent.server}%}`,
  };
  return sampler;
}
