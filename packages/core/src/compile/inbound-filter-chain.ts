import type { PatchOperation } from '../config/schema/envoy-filter.js';

/**
 * Where a local rate limit filter sits among the stages meshlet's inbound engine runs, named
 * by the first stage after it: CUSTOM (ext_authz), RequestAuthentication (jwt_authn), the
 * AUDIT/DENY RBAC filters, the ALLOW RBAC filter, or the router.
 */
export type RateLimitPosition = 'beforeCustom' | 'beforeJwt' | 'beforeRbac' | 'beforeAllow' | 'beforeRouter';

/** The HTTP filters a patch can name, of the ones meshlet runs as a stage. */
export const RBAC_FILTER = 'envoy.filters.http.rbac';
export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
export const JWT_FILTER = 'envoy.filters.http.jwt_authn';
export const ROUTER_FILTER = 'envoy.filters.http.router';

/** One filter of the chain: its name, and the position a filter right after it is in. */
interface ChainFilter {
  readonly name: string;
  /** Set on meshlet's stages; other filters leave the position as it was. */
  readonly after?: RateLimitPosition;
  /** A local rate limit filter this simulation inserted (its index among the patches). */
  readonly patch?: number;
}

/** What istiod puts in a workload's inbound HTTP chain (or a gateway's), as far as meshlet runs it. */
export interface ChainShape {
  readonly gateway: boolean;
  /**
   * The CUSTOM filters, one entry per provider in name order: `usable`, a shadow RBAC filter
   * and ext_authz; `bad`, a deny-only RBAC filter (authz/builder builder.go, for a provider
   * istiod cannot use, or several providers without the feature flag).
   */
  readonly custom: readonly ('usable' | 'bad')[];
  readonly jwt: boolean;
  readonly audit: boolean;
  readonly deny: boolean;
  readonly allow: boolean;
}

/**
 * The inbound HTTP filter chain istiod builds (pilot/pkg/networking/core/listener_builder.go
 * buildHTTPConnectionManager): metadata exchange, the CUSTOM builder's filters, jwt_authn,
 * the AUDIT, DENY and ALLOW RBAC filters (authz/builder builder.go `build`), grpc_stats,
 * a gateway's ALPN filter, fault, cors, the stats filter, and the router. CUSTOM runs
 * before jwt_authn there: an ext_authz server sees the original token and no output headers
 * (istio/istio#51173 asks to change that).
 */
export function baseInboundChain(shape: ChainShape): ChainFilter[] {
  const chain: ChainFilter[] = [{ name: 'istio.metadata_exchange' }];
  // meshlet runs every CUSTOM check as one stage: a filter patched in between two providers'
  // filters runs after all of them.
  for (const provider of shape.custom)
    if (provider === 'usable')
      chain.push({ name: RBAC_FILTER }, { name: EXT_AUTHZ_FILTER, after: 'beforeJwt' });
    else chain.push({ name: RBAC_FILTER, after: 'beforeJwt' });
  if (shape.jwt) chain.push({ name: JWT_FILTER, after: 'beforeRbac' });
  // The AUDIT filter only marks; a filter after it still runs before DENY.
  if (shape.audit) chain.push({ name: RBAC_FILTER, after: 'beforeRbac' });
  if (shape.deny) chain.push({ name: RBAC_FILTER, after: 'beforeAllow' });
  if (shape.allow) chain.push({ name: RBAC_FILTER, after: 'beforeRouter' });
  chain.push({ name: 'envoy.filters.http.grpc_stats' });
  if (shape.gateway) chain.push({ name: 'istio.alpn' });
  chain.push(
    { name: 'envoy.filters.http.fault' },
    { name: 'envoy.filters.http.cors' },
    // Present while Istio's metrics are on, as they are by default.
    { name: 'istio.stats' },
    { name: ROUTER_FILTER },
  );
  return chain;
}

/** A local rate limit HTTP_FILTER patch, as far as placing it goes. */
export interface FilterPatch {
  readonly operation: PatchOperation;
  /** `match.listener.filterChain.filter.subFilter.name`, when the patch names one. */
  readonly subFilter: string | undefined;
  /** The filter's own name, which a later patch may name as its subFilter. */
  readonly name: string;
}

/** A placed patch: its index among the patches, and where it runs. */
export interface PlacedFilter {
  readonly patch: number;
  readonly position: RateLimitPosition;
}

/**
 * Applies the patches in order as istio envoyfilter/listener_patch.go patchHTTPFilters does
 * (each INSERT_BEFORE/INSERT_AFTER at the first filter of that name, none when the chain has
 * none; without a subFilter INSERT_BEFORE is first and INSERT_AFTER last; ADD appends), and
 * returns the applied ones in chain order, the order their buckets are drawn from. Left out:
 * a patch naming a filter the chain lacks, and one placed after the router, which Envoy
 * refuses ("terminal filter ... must be the last filter", config/utility.cc
 * validateTerminalFilters) and so never runs.
 */
export function placeRateLimits(
  base: readonly ChainFilter[],
  patches: readonly FilterPatch[],
): PlacedFilter[] {
  const chain = [...base];
  patches.forEach((p, patch) => {
    const filter: ChainFilter = { name: p.name, patch };
    const at = p.subFilter === undefined ? -1 : chain.findIndex((f) => f.name === p.subFilter);
    switch (p.operation) {
      case 'INSERT_FIRST':
        chain.unshift(filter);
        return;
      case 'ADD':
        chain.push(filter);
        return;
      case 'INSERT_BEFORE':
        if (p.subFilter === undefined) chain.unshift(filter);
        else if (at >= 0) chain.splice(at, 0, filter);
        return;
      case 'INSERT_AFTER':
        if (p.subFilter === undefined) chain.push(filter);
        else if (at >= 0) chain.splice(at + 1, 0, filter);
        return;
      default:
        return;
    }
  });
  const out: PlacedFilter[] = [];
  let position: RateLimitPosition = 'beforeCustom';
  for (const f of chain) {
    if (f.name === ROUTER_FILTER && f.patch === undefined) break;
    if (f.patch !== undefined) out.push({ patch: f.patch, position });
    if (f.after !== undefined) position = f.after;
  }
  return out;
}
