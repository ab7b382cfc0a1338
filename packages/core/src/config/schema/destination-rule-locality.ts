import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type { LocalityLoadBalancerSetting, OutlierDetection } from './destination-rule-traffic-policy.js';

/**
 * Locality load-balancing rules (istio pkg/config/validation/agent/validation.go
 * `ValidateLocalityLbSetting`, `ValidateZoneAwareLbSetting`, `validateLocalities`).
 */

const TOPOLOGY_LABELS: ReadonlySet<string> = new Set([
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
  'topology.istio.io/subzone',
]);

/** `validateLocalities`: wildcards only at the end, no empty parts, no overlaps. Returns a message or null. */
export function checkLocalities(localities: readonly string[]): string | null {
  // region -> zone -> subzones; '*' marks "everything below".
  const tree = new Map<string, Map<string, Set<string>>>();
  for (const loc of localities) {
    const stars = loc.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !loc.endsWith('*'))) {
      return `locality ${loc} wildcard '*' number can not exceed 1 and must be in the end`;
    }
    const overlap = `locality ${loc} overlap with previous specified ones`;
    if (tree.has('*')) return overlap;
    const items = loc.split('/');
    const parts = items.length > 3 ? [items[0], items[1], items.slice(2).join('/')] : items;
    if (parts.some((p) => p === '')) return `locality ${loc} must not contain empty region/zone/subzone info`;
    const [region = '', zone = '', sub = ''] = parts;
    const zones = tree.get(region);
    if (parts.length === 1) {
      if (zones !== undefined) return overlap;
      tree.set(region, new Map([['*', new Set(['*'])]]));
    } else if (parts.length === 2) {
      if (zones === undefined) tree.set(region, new Map([[zone, new Set(['*'])]]));
      else {
        if (zones.has('*') || zones.has(zone)) return overlap;
        zones.set(zone, new Set(['*']));
      }
    } else if (zones === undefined) {
      tree.set(region, new Map([[zone, new Set([sub])]]));
    } else {
      if (zones.has('*')) return overlap;
      const subs = zones.get(zone);
      if (subs === undefined) zones.set(zone, new Set([sub]));
      else {
        if (subs.has('*') || subs.has(sub)) return overlap;
        subs.add(sub);
      }
    }
  }
  return null;
}

function validateFailover(
  failover: readonly { from?: string | undefined; to?: string | undefined }[] | undefined,
  kind: 'locality lb' | 'zone aware lb',
  path: FieldPath,
  ctx: ValidationContext,
): void {
  for (const [i, f] of (failover ?? []).entries()) {
    const from = f.from ?? '';
    const to = f.to ?? '';
    if (from === to) ctx.error([...path, i], `${kind} failover settings must specify different regions`);
    if (from.includes('/') || to.includes('/')) {
      ctx.error(
        [...path, i],
        kind === 'locality lb'
          ? 'locality lb failover only specify region'
          : 'zone aware lb failover only specifies region; zone and subzone failover are handled automatically',
      );
    }
    if (from.includes('*') || to.includes('*')) {
      ctx.error([...path, i], `${kind} failover region should not contain '*' wildcard`);
    }
  }
}

/** `ValidateLocalityLbSetting`. */
export function validateLocalityLbSetting(
  lb: LocalityLoadBalancerSetting | undefined,
  outlier: OutlierDetection | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (lb === undefined) return;
  const distribute = lb.distribute ?? [];
  const failover = lb.failover ?? [];
  if (distribute.length > 0 && failover.length > 0) {
    ctx.error(path, "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  if (failover.length > 0) {
    const topo = (lb.failoverPriority ?? []).find((l) => TOPOLOGY_LABELS.has(l));
    if (topo !== undefined) {
      ctx.error(
        [...path, 'failoverPriority'],
        `can not simultaneously set 'failover' and topology label '${topo}' in 'failover_priority'`,
      );
      return;
    }
  }
  for (const [i, d] of distribute.entries()) {
    let total = 0;
    for (const w of Object.values(d.to ?? {})) {
      if (w <= 0 || w > 100) {
        ctx.error([...path, 'distribute', i, 'to'], 'locality weight must be in range [1, 100]');
        return;
      }
      total += w;
    }
    if (total !== 100) {
      ctx.error([...path, 'distribute', i, 'to'], `total locality weight ${total} != 100`);
      return;
    }
    const problem = checkLocalities(Object.keys(d.to ?? {}));
    if (problem !== null) ctx.error([...path, 'distribute', i, 'to'], problem);
  }
  const src = checkLocalities(distribute.map((d) => d.from ?? ''));
  if (src !== null) ctx.error([...path, 'distribute'], src);
  if ((failover.length > 0 || (lb.failoverPriority?.length ?? 0) > 0) && outlier === undefined) {
    ctx.warn(path, 'outlier detection policy must be provided for failover');
  }
  validateFailover(failover, 'locality lb', [...path, 'failover'], ctx);
}

/** `ValidateZoneAwareLbSetting`. */
export function validateZoneAwareLbSetting(
  lb:
    | { failover?: LocalityLoadBalancerSetting['failover']; failoverPriority?: string[] | undefined }
    | undefined,
  outlier: OutlierDetection | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (lb === undefined) return;
  for (const [i, l] of (lb.failoverPriority ?? []).entries()) {
    if (TOPOLOGY_LABELS.has(l)) {
      ctx.error(
        [...path, 'failoverPriority', i],
        `'failover_priority' for zone aware lb must not use topology label '${l}'; region- and zone-level routing are handled automatically`,
      );
    }
  }
  if (((lb.failover?.length ?? 0) > 0 || (lb.failoverPriority?.length ?? 0) > 0) && outlier === undefined) {
    ctx.warn(path, 'outlier detection policy must be provided for failover');
  }
  validateFailover(lb.failover, 'zone aware lb', [...path, 'failover'], ctx);
}
