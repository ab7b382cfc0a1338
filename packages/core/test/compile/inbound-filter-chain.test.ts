import { describe, expect, it } from 'vitest';
import {
  baseInboundChain,
  placeRateLimits,
  type ChainShape,
  type FilterPatch,
} from '../../src/compile/inbound-filter-chain.js';

const LRL = 'envoy.filters.http.local_ratelimit';
const RBAC = 'envoy.filters.http.rbac';

const shape = (over: Partial<ChainShape> = {}): ChainShape => ({
  gateway: false,
  custom: [],
  jwt: false,
  audit: false,
  deny: false,
  allow: true,
  ...over,
});

const patch = (operation: FilterPatch['operation'], subFilter?: string): FilterPatch => ({
  operation,
  subFilter,
  name: LRL,
});

/** Positions, in chain order, as `patchIndex:position`. */
const placed = (s: ChainShape, patches: FilterPatch[]) =>
  placeRateLimits(baseInboundChain(s), patches).map((p) => `${p.patch}:${p.position}`);

describe('placing local rate limit filters in the chain istiod builds (envoyfilter/listener_patch.go)', () => {
  it('INSERT_AFTER rbac goes after the first RBAC filter of the chain', () => {
    // Only ALLOW: after it, so after every authorization filter.
    expect(placed(shape(), [patch('INSERT_AFTER', RBAC)])).toEqual(['0:beforeRouter']);
    // DENY first: between DENY and ALLOW.
    expect(placed(shape({ deny: true }), [patch('INSERT_AFTER', RBAC)])).toEqual(['0:beforeAllow']);
    // AUDIT first: after the AUDIT filter, still before DENY.
    expect(placed(shape({ audit: true, deny: true }), [patch('INSERT_AFTER', RBAC)])).toEqual([
      '0:beforeRbac',
    ]);
    // CUSTOM's shadow RBAC filter comes first: between it and ext_authz, so before the check.
    expect(placed(shape({ custom: ['usable'], jwt: true }), [patch('INSERT_AFTER', RBAC)])).toEqual([
      '0:beforeCustom',
    ]);
    // A CUSTOM provider istiod cannot build is a deny-only RBAC filter: after it.
    expect(placed(shape({ custom: ['bad'], jwt: true }), [patch('INSERT_AFTER', RBAC)])).toEqual([
      '0:beforeJwt',
    ]);
  });

  it('one RBAC and ext_authz pair per CUSTOM provider, in name order (PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS)', () => {
    const two = shape({ custom: ['usable', 'bad'], jwt: true });
    expect(
      baseInboundChain(two)
        .map((f) => f.name)
        .slice(0, 5),
    ).toEqual([
      'istio.metadata_exchange',
      RBAC,
      'envoy.filters.http.ext_authz',
      RBAC,
      'envoy.filters.http.jwt_authn',
    ]);
    // After the first provider's shadow RBAC filter: before any check.
    expect(placed(two, [patch('INSERT_AFTER', RBAC)])).toEqual(['0:beforeCustom']);
    // Between the two providers' filters, which meshlet checks as one stage: after both.
    expect(placed(two, [patch('INSERT_AFTER', 'envoy.filters.http.ext_authz')])).toEqual(['0:beforeJwt']);
  });

  it('INSERT_BEFORE and INSERT_AFTER the CUSTOM and jwt_authn filters', () => {
    const s = shape({ custom: ['usable'], jwt: true });
    expect(placed(s, [patch('INSERT_BEFORE', 'envoy.filters.http.ext_authz')])).toEqual(['0:beforeCustom']);
    expect(placed(s, [patch('INSERT_AFTER', 'envoy.filters.http.ext_authz')])).toEqual(['0:beforeJwt']);
    expect(placed(s, [patch('INSERT_BEFORE', 'envoy.filters.http.jwt_authn')])).toEqual(['0:beforeJwt']);
    expect(placed(s, [patch('INSERT_AFTER', 'envoy.filters.http.jwt_authn')])).toEqual(['0:beforeRbac']);
    expect(placed(s, [patch('INSERT_BEFORE', RBAC)])).toEqual(['0:beforeCustom']);
    expect(placed(s, [patch('INSERT_AFTER', 'istio.metadata_exchange')])).toEqual(['0:beforeCustom']);
    expect(placed(s, [patch('INSERT_BEFORE', 'istio.stats')])).toEqual(['0:beforeRouter']);
  });

  it('keeps the chain order: repeated inserts at one anchor stack as Envoy runs them', () => {
    const s = shape();
    // Each INSERT_BEFORE the router lands just before it: in patch order.
    expect(
      placed(s, [
        patch('INSERT_BEFORE', 'envoy.filters.http.router'),
        patch('INSERT_BEFORE', 'envoy.filters.http.router'),
      ]),
    ).toEqual(['0:beforeRouter', '1:beforeRouter']);
    // Each INSERT_AFTER the same filter lands just after it: the later patch first.
    expect(placed(s, [patch('INSERT_AFTER', RBAC), patch('INSERT_AFTER', RBAC)])).toEqual([
      '1:beforeRouter',
      '0:beforeRouter',
    ]);
    // Without a subFilter INSERT_BEFORE goes first, like INSERT_FIRST.
    expect(placed(s, [patch('INSERT_BEFORE'), patch('INSERT_FIRST')])).toEqual([
      '1:beforeCustom',
      '0:beforeCustom',
    ]);
    // A patch may name an earlier local rate limit filter.
    expect(
      placed(s, [patch('INSERT_BEFORE', 'envoy.filters.http.router'), patch('INSERT_AFTER', LRL)]),
    ).toEqual(['0:beforeRouter', '1:beforeRouter']);
  });

  it('leaves out a filter after the router (ADD, INSERT_AFTER without subFilter or after the router) and one whose anchor is absent', () => {
    const s = shape();
    expect(
      placed(s, [
        patch('ADD'),
        patch('INSERT_AFTER'),
        patch('INSERT_AFTER', 'envoy.filters.http.router'),
        patch('INSERT_BEFORE', 'envoy.filters.http.jwt_authn'),
        patch('INSERT_AFTER', 'envoy.filters.http.ext_authz'),
        patch('INSERT_BEFORE', 'envoy.filters.http.router'),
      ]),
    ).toEqual(['5:beforeRouter']);
  });
});
