import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import {
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
export function createMeshSampler(percent: { readonly client: number; readonly server: number }): Sampler {
  const ratio = (p: number) => new TraceIdRatioBasedSampler(Math.min(100, Math.max(0, p)) / 100);
  const client = new ParentBasedSampler({ root: ratio(percent.client) });
  const server = new ParentBasedSampler({ root: ratio(percent.server) });
  return {
    shouldSample(
      context: Context,
      traceId: string,
      name: string,
      kind: SpanKind,
      attributes: Attributes,
      links: Link[],
    ): SamplingResult {
      return (kind === SpanKind.SERVER ? server : client).shouldSample(
        context,
        traceId,
        name,
        kind,
        attributes,
        links,
      );
    },
    toString: () => `MeshSampler{client=${percent.client}%,server=${percent.server}%}`,
  };
}
