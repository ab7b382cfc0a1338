import type { MeshFetchInit } from '../outbound/client.js';
import { directFetch, servesHost, type DirectFetchContext } from './direct-fetch.js';

/**
 * How a mock mesh fetches JWKS and OIDC discovery documents: as istiod does for a
 * RequestAuthentication's `jwksUri` (it fetches, then inlines the keys; PILOT_JWT_ENABLE_REMOTE_JWKS
 * off by default), straight from the host with no sidecar. A host a mock pod serves
 * (`mm.service('issuer.example', { port: 443, mesh: false, tls: true }, ...)` for an
 * https URL) answers from that pod; any other host is fetched over the
 * real network, as before, so a test's own identity provider on loopback still works.
 */
export function istiodFetch(ctx: DirectFetchContext): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!servesHost(ctx, url.hostname)) return globalThis.fetch(input, init);
    const call: MeshFetchInit = {
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      ...(init?.signal === undefined ? {} : { signal: init.signal }),
    };
    const res = await directFetch(ctx, url, call);
    const body = Buffer.from(await res.arrayBuffer());
    return new Response(res.status === 204 || res.status === 304 ? null : body, {
      status: res.status,
      headers: res.headers,
    });
  };
}
