import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, type Context } from '@opentelemetry/api';

/**
 * What an inbound request hands to the outbound calls its handler makes: the trace
 * context (the SERVER span is the parent of every CLIENT span) and `x-request-id`.
 */
export interface MeshRequestContext {
  readonly trace: Context;
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<MeshRequestContext>();

/**
 * Run `fn` with `ctx` as the current inbound context, so `mesh.fetch` inside it
 * continues the trace and forwards `x-request-id` without application code. Also
 * makes the trace context active for the OpenTelemetry API, so the application's own
 * spans nest under the SERVER span when it registered a context manager.
 */
export function runWithInboundContext<T>(ctx: MeshRequestContext, fn: () => T): T {
  return storage.run(ctx, () => otelContext.with(ctx.trace, fn));
}

/** The inbound context of the request being handled, or undefined outside one. */
export function currentContext(): MeshRequestContext | undefined {
  return storage.getStore();
}
