import type { AnalysisContext } from '../context.js';
import { ISTIO_NAMESPACE } from '../context.js';
import { selectorMatches, type Labels } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, strList, strMap } from '../read.js';
import { subjectOf } from './subject.js';

const CLAIM_PREFIX = '@request.auth.claims';

/** istio pkg/jwt `ToRoutingClaim(...).Match`: `@request.auth.claims.a.b` or `@request.auth.claims[a][b]`. */
function isClaimKey(header: string): boolean {
  if (!header.toLowerCase().startsWith(CLAIM_PREFIX)) return false;
  const rest = header.slice(CLAIM_PREFIX.length);
  if (rest.startsWith('.')) return rest.length > 1;
  return rest.startsWith('[') && rest.endsWith(']') && rest.length > 2;
}

/** istio `routeBasedOnJWTClaimKey`: the first claim header of any HTTP match, '' if none. */
function claimKey(spec: unknown): string {
  for (const route of arr(obj(spec)['http'])) {
    for (const match of arr(obj(route)['match'])) {
      const m = obj(match);
      for (const field of ['headers', 'withoutHeaders']) {
        const key = Object.keys(obj(m[field])).find(isClaimKey);
        if (key !== undefined) return key;
      }
    }
  }
  return '';
}

/**
 * istio virtualservice.JWTClaimRouteAnalyzer: IST0149 for each pod of a
 * VirtualService's (non-mesh) gateway that no RequestAuthentication selects
 * (in istio-system or the pod's namespace), when the VirtualService routes on
 * a JWT claim: without one the claim is never set and the route never matches.
 */
export function analyzeJwtClaimRoutes(ctx: AnalysisContext): AnalysisMessage[] {
  const requestAuthn = new Map<string, Labels[]>();
  for (const r of ctx.byKind('RequestAuthentication')) {
    const ns = r.metadata.namespace;
    const list = requestAuthn.get(ns) ?? [];
    list.push(strMap(obj(obj(r.spec)['selector'])['matchLabels']));
    requestAuthn.set(ns, list);
  }
  const out: AnalysisMessage[] = [];
  for (const vs of ctx.byKind('VirtualService')) {
    const key = claimKey(vs.spec);
    if (key === '') continue;
    const vsNs = vs.metadata.namespace;
    for (const gwName of strList(obj(vs.spec)['gateways'])) {
      if (gwName === 'mesh') continue;
      // istio resource.NewShortOrFullName: `ns/name`, else the VirtualService's namespace.
      const slash = gwName.indexOf('/');
      const gwNs = slash < 0 ? vsNs : gwName.slice(0, slash);
      const name = slash < 0 ? gwName : gwName.slice(slash + 1);
      const gw = ctx.byKind('Gateway').find((g) => g.metadata.namespace === gwNs && g.metadata.name === name);
      if (gw === undefined) continue;
      const selector = strMap(obj(gw.spec)['selector']);
      for (const pod of ctx.pods) {
        if (!selectorMatches(selector, pod.labels)) continue;
        const selectors = [
          ...(requestAuthn.get(ISTIO_NAMESPACE) ?? []),
          ...(requestAuthn.get(pod.namespace) ?? []),
        ];
        if (selectors.some((s) => selectorMatches(s, pod.labels))) continue;
        out.push(
          newMessage(MESSAGE_TYPES.JwtClaimBasedRoutingWithoutRequestAuthN, subjectOf(vs), [
            key,
            `${gwNs}/${name}`,
            pod.name,
          ]),
        );
      }
    }
  }
  return out;
}
