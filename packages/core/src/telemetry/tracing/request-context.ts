import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';

/**
 * What an inbound request hands to the outbound calls its handler makes: the trace
 * context (the SERVER span is the parent of every CLIENT span) and `x-request-id`.
 */
export interface MeshRequestContext {
  readonly trace: Context;
  /** null when none was sent and meshConfig `proxyHeaders.requestId.disabled` is set. */
  readonly requestId: string | null;
}

const storage = new AsyncLocalStorage<MeshRequestContext>();
const MESH_CONTEXT = createContextKey('meshlet.inbound-context');

// Whether a context manager that propagates is registered (the no-op one ignores `with`);
// asked per request because an application may register one after meshlet started.
const PROBE = ROOT_CONTEXT.setValue(MESH_CONTEXT, undefined);
const probeIsActive = (): boolean => otelContext.active() === PROBE;

/**
 * Run `fn` with `ctx` as the current inbound context, so `mesh.fetch` inside it
 * continues the trace and forwards `x-request-id` without application code. Also
 * makes the trace context active for the OpenTelemetry API, so the application's own
 * spans nest under the SERVER span when it registered a context manager.
 *
 * One async-local store per request, not two: every AsyncLocalStorage taxes each
 * promise on Node 20 (async_hooks). When the application registered an OpenTelemetry
 * context manager, `ctx` rides in the OpenTelemetry context it already propagates;
 * otherwise (the API's no-op manager, whose `with` only calls through) meshlet's own
 * store carries it.
 */
export function runWithInboundContext<T>(ctx: MeshRequestContext, fn: () => T): T {
  // AsyncLocalStorage.run calls straight through when `ctx` is already the store.
  if (!otelContext.with(PROBE, probeIsActive)) return storage.run(ctx, fn);
  if (otelContext.active().getValue(MESH_CONTEXT) === ctx) return fn();
  return otelContext.with(ctx.trace.setValue(MESH_CONTEXT, ctx), fn);
}

/** The inbound context of the request being handled, or undefined outside one. */
export function currentContext(): MeshRequestContext | undefined {
  return (
    storage.getStore() ?? (otelContext.active().getValue(MESH_CONTEXT) as MeshRequestContext | undefined)
  );
}
