import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * A span processor given by the caller, shared by each TracerProvider a reload builds:
 * a retired provider's shutdown flushes it but does not shut it down (close() does).
 */
export class SharedProcessor implements SpanProcessor {
  constructor(readonly inner: SpanProcessor) {}
  onStart(...args: Parameters<SpanProcessor['onStart']>): void {
    this.inner.onStart(...args);
  }
  onEnd(span: Parameters<SpanProcessor['onEnd']>[0]): void {
    this.inner.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.forceFlush();
  }
}
