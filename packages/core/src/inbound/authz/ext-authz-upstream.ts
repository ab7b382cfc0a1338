import type { ClusterCaller } from '../../outbound/cluster-call.js';
import type { CheckSend } from './ext-authz-check.js';

/**
 * A `CheckSend` through the mesh: the check goes to the provider service's outbound cluster
 * with its DestinationRule TLS or auto mTLS, as the sidecar's ext_authz client sends it
 * (outbound/cluster-call.ts), with the original Host and Envoy's `content-length` (0 when
 * the check carries no body: ext_authz_http_impl.cc). A local reply of the cluster (`503 UF`,
 * `UH`, ...) rejects, so the check fails as Envoy's does on a 5xx.
 */
export function checkSendThrough(upstream: ClusterCaller): CheckSend {
  return async (p, req) => {
    const headers: Record<string, string> = { ...req.headers };
    // A HEAD message cannot carry a body on node's client; that check goes without it.
    const body = req.method === 'HEAD' ? null : req.body;
    headers['content-length'] = String(body?.length ?? 0);
    const r = await upstream.request(p.host, p.port, {
      method: req.method,
      path: req.path,
      headers,
      body,
      signal: req.signal,
    });
    if (r.kind === 'failure') throw new Error(r.reason);
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(r.headers))
      out[name] = typeof value === 'string' ? value : name === 'set-cookie' ? [...value] : value.join(', ');
    return {
      status: r.status,
      headers: out,
      body: r.body,
      discard: () => {
        r.body.destroy();
      },
    };
  };
}
