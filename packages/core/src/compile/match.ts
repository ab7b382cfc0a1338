import type { CompiledMatch, Predicate, RouteRequest } from './plan-types.js';
import type { HTTPMatchRequestIn, StringMatchIn } from './spec-types.js';
import { compileStringMatch } from './string-match.js';

/** Header value as Envoy sees it: repeated headers joined with `,`. */
export function headerValue(req: RouteRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/**
 * First value of a query parameter as Envoy's route matcher sees it (envoy http/utility.cc
 * QueryParamsMulti::parseQueryString -> parseParameters with decode_params=false): split on
 * `&`, name and value at the first `=`, a bare name has value "", nothing is %-decoded and
 * `+` stays `+`. Undefined when absent.
 */
function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  for (const param of path.slice(q + 1).split('&')) {
    const eq = param.indexOf('=');
    if ((eq < 0 ? param : param.slice(0, eq)) === name) return eq < 0 ? '' : param.slice(eq + 1);
  }
  return undefined;
}

const CLAIM = /^@request\.auth\.claims(?:\.([^[\]]+)|((?:\[[^[\]]+\])+))$/;

/**
 * `@request.auth.claims[a][b]` / `@request.auth.claims.a.b` -> ['a','b']: both separators
 * nest (istio pkg/jwt/routing.go ToRoutingClaim splits the dotted form on every `.`).
 */
export function claimPath(header: string): readonly string[] | null {
  const m = CLAIM.exec(header);
  if (m === null) return null;
  if (m[1] !== undefined) return m[1].split('.');
  return (m[2] ?? '')
    .slice(1, -1)
    .split('][')
    .filter((s) => s !== '');
}

function claimValues(req: RouteRequest, path: readonly string[]): readonly string[] | undefined {
  let node: unknown = req.claims ?? undefined;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  if (typeof node === 'string') return [node];
  // istio/istio#39703: only strings (or lists of strings) match a claim.
  if (Array.isArray(node)) return node.filter((x): x is string => typeof x === 'string');
  return undefined;
}

const IGNORED_HEADER_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

function headerPredicate(name: string, m: StringMatchIn, invert: boolean): Predicate {
  const key = name.toLowerCase();
  const sm = compileStringMatch(m);
  const claim = claimPath(name);
  if (claim !== null) {
    const text = `claim ${claim.join('.')} ${sm.describe()}`;
    const test = (req: RouteRequest): boolean => {
      const vals = claimValues(req, claim);
      return vals !== undefined && vals.some((v) => sm.test(v));
    };
    return invert
      ? { test: (req) => !test(req), describe: () => `NOT ${text}` }
      : { test, describe: () => text };
  }
  if (invert && sm.presence) {
    // istio route.go TranslateRouteMatch: `{}` / regex `*` is present_match + invert_match with no
    // treat_missing_header_as_empty (canBeConvertedToPresentMatch), so it matches an absent header.
    const text = `header ${key} absent`;
    return { test: (req) => headerValue(req, key) === undefined, describe: () => text };
  }
  if (invert) {
    // spec/traffic.md §1: a missing header counts as "" before the match is inverted.
    const text = `header ${key} NOT ${sm.describe()}`;
    return { test: (req) => !sm.test(headerValue(req, key) ?? ''), describe: () => text };
  }
  const text = `header ${key} ${sm.describe()}`;
  return {
    test: (req) => {
      const v = headerValue(req, key);
      return v !== undefined && sm.test(v);
    },
    describe: () => text,
  };
}

/** Is this match everything-matching (Istio `isCatchAllRoute`)? */
function isCatchAll(m: HTTPMatchRequestIn): boolean {
  const uriCatchAll =
    m.uri === undefined || m.uri.prefix === '/' || m.uri.regex === '*' || m.uri.regex === '.*';
  return (
    uriCatchAll &&
    m.scheme === undefined &&
    m.method === undefined &&
    m.authority === undefined &&
    Object.keys(m.headers ?? {}).length === 0 &&
    Object.keys(m.queryParams ?? {}).length === 0 &&
    Object.keys(m.withoutHeaders ?? {}).length === 0
  );
}

/**
 * Compiles one `HTTPMatchRequest` into a closure (fields ANDed). `port`,
 * `sourceLabels`, `sourceNamespace` and `gateways` are about the caller and the
 * listener, so they are decided at compile time (see `sourceMatches`).
 */
export function compileMatch(m: HTTPMatchRequestIn): CompiledMatch & { readonly catchAll: boolean } {
  const conditions: Predicate[] = [];
  const ignoreCase = m.ignoreUriCase === true;
  if (m.uri !== undefined && !(m.uri.prefix === '/' && !ignoreCase)) {
    const sm = compileStringMatch(m.uri, ignoreCase);
    const text = `uri ${sm.describe()}`;
    conditions.push({ test: (req) => sm.test(pathOnly(req.path)), describe: () => text });
  }
  for (const [field, sm0] of [
    ['scheme', m.scheme],
    ['method', m.method],
    ['authority', m.authority],
  ] as const) {
    if (sm0 === undefined) continue;
    const sm = compileStringMatch(sm0);
    const text = `${field} ${sm.describe()}`;
    conditions.push({ test: (req) => sm.test(req[field]), describe: () => text });
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    if (IGNORED_HEADER_KEYS.has(name.toLowerCase())) continue;
    conditions.push(headerPredicate(name, sm, false));
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    if (IGNORED_HEADER_KEYS.has(name.toLowerCase())) continue;
    conditions.push(headerPredicate(name, sm, true));
  }
  for (const [name, sm0] of Object.entries(m.queryParams ?? {})) {
    const sm = compileStringMatch(sm0);
    const text = `query ${name} ${sm.describe()}`;
    conditions.push({
      test: (req) => {
        const v = queryValue(req.path, name);
        return v !== undefined && sm.test(v);
      },
      describe: () => text,
    });
  }
  const described = conditions.length === 0 ? 'any' : conditions.map((c) => c.describe()).join(' AND ');
  const text = m.port !== undefined ? `port ${m.port} AND ${described}` : described;
  const test =
    conditions.length === 0
      ? () => true
      : conditions.length === 1
        ? (conditions[0] as Predicate).test
        : (req: RouteRequest) => {
            for (const c of conditions) if (!c.test(req)) return false;
            return true;
          };
  return {
    name: m.name ?? null,
    conditions,
    test,
    describe: () => text,
    // istio route.go TranslateRouteMatch: an entry without a uri match is Envoy's prefix `/`.
    uriPrefix: m.uri === undefined ? '/' : (m.uri.prefix ?? null),
    catchAll: isCatchAll(m),
  };
}

/**
 * istio route.go `sourceMatchHTTP`: `match.gateways` (when set) must name one of
 * the proxy's gateways (`mesh` for a sidecar), otherwise `sourceLabels` must be a
 * subset of the caller's labels and `sourceNamespace` equal the caller's.
 */
export function sourceMatches(
  m: HTTPMatchRequestIn,
  labels: Readonly<Record<string, string>>,
  namespace: string,
  gateways: ReadonlySet<string>,
): boolean {
  if (m.gateways !== undefined && m.gateways.length > 0) return m.gateways.some((g) => gateways.has(g));
  for (const [k, v] of Object.entries(m.sourceLabels ?? {})) if (labels[k] !== v) return false;
  return m.sourceNamespace === undefined || m.sourceNamespace === '' || m.sourceNamespace === namespace;
}
