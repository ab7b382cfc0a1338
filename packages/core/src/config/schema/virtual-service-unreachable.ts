import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type { StringMatch } from './networking-common.js';
import type { HTTPMatchRequest, HTTPRoute, TCPRoute, TLSRoute } from './virtual-service.js';

/**
 * Istio's webhook warnings for rules that can never match, which istioctl reports as
 * IST0130 (VirtualServiceUnreachableRule, Warning) and IST0131
 * (VirtualServiceIneffectiveMatch, Info). After istio pkg/config/validation/validation.go
 * `analyzeUnreachableHTTPRules`, `genMatchHTTPRoutes` and `coveredValidation`; texts from
 * pkg/config/analysis/msg/messages.yaml.
 */

export function unreachableRuleMessage(ruleno: string, reason: string): string {
  return `VirtualService rule ${ruleno} not used (${reason}).`;
}

export function ineffectiveMatchMessage(ruleno: string, matchno: string, dupno: string): string {
  return `VirtualService rule ${ruleno} match ${matchno} is not used (duplicate/overlapping match in rule ${dupno}).`;
}

/** A JSON text with sorted keys, so equal matches compare equal whatever the YAML key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

// The match name is not routing config (validation.go asJSON drops it).
function matchKey(m: object): string {
  const { name: _name, ...rest } = m as { name?: string };
  return canonical(rest);
}

function routeName(route: { name?: string | undefined }, n: number): string {
  return route.name !== undefined && route.name !== '' ? JSON.stringify(route.name) : `#${n}`;
}

function requestName(match: { name?: string | undefined }, n: number): string {
  return match.name !== undefined && match.name !== '' ? JSON.stringify(match.name) : `#${n}`;
}

interface PrefixMatch {
  readonly rule: number;
  readonly match: number;
  readonly routeStr: string;
  readonly matchStr: string;
  readonly prefix: string;
  readonly port: number | undefined;
  readonly method: string;
  readonly authority: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly queryParams: ReadonlyMap<string, string>;
  readonly withoutHeaders: ReadonlyMap<string, string>;
}

function exactOrPrefix(sm: StringMatch | undefined): string {
  if (sm?.exact !== undefined && sm.exact !== '') return `exact:${sm.exact}`;
  if (sm?.prefix !== undefined && sm.prefix !== '') return `prefix:${sm.prefix}`;
  return '';
}

function toMap(rec: Readonly<Record<string, StringMatch>> | undefined): ReadonlyMap<string, string> {
  return new Map(Object.entries(rec ?? {}).map(([k, v]) => [k, exactOrPrefix(v)]));
}

function prefixMatch(route: HTTPRoute, m: HTTPMatchRequest, rule: number, match: number): PrefixMatch | null {
  const prefix = m.uri?.prefix;
  if (prefix === undefined || prefix === '') return null;
  const method = exactOrPrefix(m.method);
  return {
    rule,
    match,
    routeStr: routeName(route, rule),
    matchStr: requestName(m, match),
    prefix,
    port: m.port === 0 ? undefined : m.port,
    // No method means GET for this comparison (genMatchHTTPRoutes).
    method: method === '' ? 'exact:GET' : method,
    authority: exactOrPrefix(m.authority),
    headers: toMap(m.headers),
    queryParams: toMap(m.queryParams),
    withoutHeaders: toMap(m.withoutHeaders),
  };
}

function mapCovered(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, va] of a) {
    const vb = b.get(k);
    if (vb === undefined || (va !== vb && !va.startsWith(vb))) return false;
  }
  return true;
}

/** Whether an earlier prefix match `a` also takes every request the later match `b` would. */
function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix)) return false;
  if (a.port !== b.port) return false;
  // Istio compares these with strings.HasPrefix(a, b), reproduced as written.
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return (
    mapCovered(a.headers, b.headers) &&
    mapCovered(a.queryParams, b.queryParams) &&
    mapCovered(a.withoutHeaders, b.withoutHeaders)
  );
}

type AnyRoute = { readonly name?: string | undefined; readonly match?: readonly object[] | undefined };

function analyzeRules(
  routes: readonly AnyRoute[],
  base: FieldPath,
  ctx: ValidationContext,
  onNewMatch?: (rule: number, match: number) => void,
): void {
  const seen = new Map<string, number>();
  let emptyMatch = -1;
  for (const [rule, route] of routes.entries()) {
    const matches = route.match ?? [];
    if (matches.length === 0) {
      if (emptyMatch >= 0) {
        ctx.warn(
          [...base, rule],
          unreachableRuleMessage(routeName(route, rule), 'only the last rule can have no matches'),
          'IST0130',
        );
      }
      emptyMatch = rule;
      continue;
    }
    let duplicates = 0;
    for (const [matchn, match] of matches.entries()) {
      if (emptyMatch >= 0) {
        ctx.warn(
          [...base, rule],
          unreachableRuleMessage(routeName(route, rule), 'route without matches defined before'),
          'IST0130',
        );
        continue;
      }
      const key = matchKey(match);
      const dup = seen.get(key);
      if (dup !== undefined) {
        const dupRoute = routes[dup] ?? {};
        ctx.info(
          [...base, rule, 'match', matchn],
          ineffectiveMatchMessage(
            routeName(route, rule),
            requestName(match, matchn),
            routeName(dupRoute, dup),
          ),
          'IST0131',
        );
        duplicates++;
        continue;
      }
      seen.set(key, rule);
      onNewMatch?.(rule, matchn);
    }
    if (duplicates === matches.length) {
      ctx.warn(
        [...base, rule],
        unreachableRuleMessage(routeName(route, rule), 'all matches used by prior rules'),
        'IST0130',
      );
    }
  }
}

/** IST0130/IST0131 for `spec.http`, including prefix matches shadowed by an earlier shorter prefix. */
export function analyzeUnreachableHttpRules(routes: readonly HTTPRoute[], ctx: ValidationContext): void {
  const prefixes: PrefixMatch[] = [];
  analyzeRules(routes, ['spec', 'http'], ctx, (rule, matchn) => {
    const route = routes[rule];
    const m = route?.match?.[matchn];
    if (route === undefined || m === undefined) return;
    const pm = prefixMatch(route, m, rule, matchn);
    if (pm !== null) prefixes.push(pm);
  });
  for (const [i, a] of prefixes.entries()) {
    for (const b of prefixes.slice(i + 1)) {
      if (b.prefix === a.prefix) continue; // exact duplicates were reported above
      if (covered(a, b)) {
        ctx.info(
          ['spec', 'http', b.rule, 'match', b.match],
          ineffectiveMatchMessage(
            b.routeStr,
            `${b.matchStr} of prefix ${b.prefix}`,
            `${a.matchStr} of prefix ${a.prefix} on ${a.routeStr}`,
          ),
          'IST0131',
        );
      }
    }
  }
}

/** IST0130/IST0131 for `spec.tcp` (Istio's identical TCP variant; routes have no names). */
export function analyzeUnreachableTcpRules(routes: readonly TCPRoute[], ctx: ValidationContext): void {
  analyzeRules(routes, ['spec', 'tcp'], ctx);
}

/** IST0130/IST0131 for `spec.tls`. */
export function analyzeUnreachableTlsRules(routes: readonly TLSRoute[], ctx: ValidationContext): void {
  analyzeRules(routes, ['spec', 'tls'], ctx);
}
