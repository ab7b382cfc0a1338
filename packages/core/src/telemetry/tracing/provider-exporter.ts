import { createRequire } from 'node:module';
import { SpanKind, type Context } from '@opentelemetry/api';
import type { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { grpcJs } from '../../runtime/grpc-js.js';
import type { TraceExport } from '../config/trace-export-config.js';

// The gRPC and Zipkin exporters are loaded only when a provider asks for them, as
// @grpc/grpc-js is (runtime/grpc-js.ts).
const load = createRequire(import.meta.url);

/** A span exporter for a meshConfig tracing provider (`opentelemetry` or `zipkin`). */
export function providerExporter(target: TraceExport, serviceName: string): SpanExporter {
  switch (target.protocol) {
    case 'otlp-http':
      return new OTLPTraceExporter({
        url: target.url,
        headers: { ...target.headers },
        timeoutMillis: target.timeoutMs,
      });
    case 'otlp-grpc': {
      const { OTLPTraceExporter: Exporter } = load('@opentelemetry/exporter-trace-otlp-grpc') as {
        OTLPTraceExporter: typeof GrpcExporter;
      };
      const metadata = new (grpcJs().Metadata)();
      for (const [k, v] of Object.entries(target.headers)) metadata.set(k, v);
      return new Exporter({ url: target.url, metadata, timeoutMillis: target.timeoutMs });
    }
    case 'zipkin': {
      // The Zipkin exporter has no request timeout option: a provider `timeout` is read
      // and validated but the exporter's own sending applies.
      const { ZipkinExporter: Exporter } = load('@opentelemetry/exporter-zipkin') as {
        ZipkinExporter: typeof ZipkinExporter;
      };
      return new Exporter({ url: target.url, serviceName, headers: { ...target.headers } });
    }
  }
}

/**
 * Forwards only the spans of some kinds (CLIENT for outbound, SERVER for inbound) to a
 * processor: Istio lets Telemetry name a different tracing provider per `match.mode`.
 */
export class SpanKindProcessor implements SpanProcessor {
  constructor(
    private readonly inner: SpanProcessor,
    private readonly kinds: ReadonlySet<number>,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    if (this.kinds.has(span.kind)) this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if (this.kinds.has(span.kind)) this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** One batch processor per provider; a provider used by one direction only sees that direction's spans. */
export function providerProcessors(
  targets: readonly { readonly target: TraceExport; readonly kind: number }[],
  serviceName: string,
): SpanProcessor[] {
  const byProvider = new Map<string, { target: TraceExport; kinds: Set<number> }>();
  for (const { target, kind } of targets) {
    const e = byProvider.get(target.provider) ?? { target, kinds: new Set<number>() };
    e.kinds.add(kind);
    byProvider.set(target.provider, e);
  }
  return [...byProvider.values()].map(({ target, kinds }) =>
    onlyKinds(new BatchSpanProcessor(providerExporter(target, serviceName)), kinds),
  );
}

/** `processor` as is when it takes both of meshlet's span kinds, else filtered to `kinds`. */
export function onlyKinds(processor: SpanProcessor, kinds: ReadonlySet<number>): SpanProcessor {
  return kinds.has(SpanKind.CLIENT) && kinds.has(SpanKind.SERVER)
    ? processor
    : new SpanKindProcessor(processor, kinds);
}
