import type { ExtAuthzTracer } from '../../inbound/authz/ext-authz-span.js';
import type { OutgoingHeaders } from './propagation.js';
import type { MeshTracing } from './mesh-tracing.js';
import { currentContext } from './request-context.js';

const REQUEST_ID = 'x-request-id';

/**
 * CUSTOM check spans from the mesh's tracing (read per check: it follows config reloads).
 * The parent is the request being decided; the adapters decide inside its context. The
 * check carries the span's trace headers only: Envoy's async client injects the span
 * context, while `x-request-id` goes to an HTTP provider only when its header list names it.
 */
export function createExtAuthzTracer(tracing: () => MeshTracing | null): ExtAuthzTracer {
  return (check) => {
    const t = tracing();
    const parent = currentContext();
    if (t === null || parent === undefined) return null;
    const out: OutgoingHeaders = {};
    const span = t.startClientSpan({
      name: check.name,
      method: check.method,
      url: check.url,
      headers: out,
      upstreamCluster: check.cluster,
      parent,
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(out)) {
      if (k === REQUEST_ID) continue;
      headers[k] = typeof v === 'string' ? v : v.join(',');
    }
    return {
      headers,
      end: (r) =>
        span.end({
          status: r.status,
          upstreamCluster: check.cluster,
          attributes: r.tags,
          error: r.error,
        }),
    };
  };
}
