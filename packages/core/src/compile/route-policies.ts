import { RE2JS } from 're2js';
import type {
  CorsPolicy,
  Fault,
  HeaderOperations,
  HeaderPolicy,
  Rewrite,
  RouteAction,
} from './plan-types.js';
import type {
  CorsPolicyIn,
  HeaderOperationsIn,
  HeadersIn,
  HTTPDirectResponseIn,
  HTTPFaultInjectionIn,
  HTTPRedirectIn,
  HTTPRewriteIn,
} from './spec-types.js';
import { compileStringMatch } from './string-match.js';
import { toMs } from './duration.js';

function headerOps(ops: HeaderOperationsIn | undefined, keepAuthority: boolean): HeaderOperations | null {
  if (ops === undefined) return null;
  // istio route.go TranslateHeadersOperations: pseudo headers and Host are not settable
  // (a request `host`/`:authority` set becomes an authority rewrite instead).
  const usable = (k: string): boolean => {
    const key = k.toLowerCase();
    return !key.startsWith(':') && (key !== 'host' || keepAuthority);
  };
  const set = Object.entries(ops.set ?? {})
    .filter(([k]) => usable(k))
    .map(([k, v]) => [k.toLowerCase(), v] as const);
  const add = Object.entries(ops.add ?? {})
    .filter(([k]) => usable(k))
    .map(([k, v]) => [k.toLowerCase(), v] as const);
  const remove = (ops.remove ?? []).filter(usable).map((k) => k.toLowerCase());
  if (set.length === 0 && add.length === 0 && remove.length === 0) return null;
  return { set, add, remove };
}

/** The last `host`/`:authority` value in a request set/add map (istio translateAppendHeaders). */
function authorityIn(ops: Readonly<Record<string, string>> | undefined): string | null {
  let authority: string | null = null;
  for (const [k, v] of Object.entries(ops ?? {})) {
    const key = k.toLowerCase();
    if (key === 'host' || key === ':authority') authority = v;
  }
  return authority;
}

/**
 * `HTTPRoute.headers` / `HTTPRouteDestination.headers`. Removes run before
 * sets and adds; `host`/`:authority` in `request.set`, else in `request.add`, is an
 * authority rewrite (istio route.go TranslateHeadersOperations: `set` wins over `add`).
 */
export function compileHeaders(h: HeadersIn | undefined): HeaderPolicy | null {
  if (h === undefined) return null;
  // An empty value is no rewrite (route.go only rewrites when `operations.Authority != ""`).
  const authority = authorityIn(h.request?.set) || authorityIn(h.request?.add) || null;
  const request = headerOps(h.request, false);
  const response = headerOps(h.response, true);
  if (request === null && response === null && authority === null) return null;
  return { request, response, authorityRewrite: authority };
}

/** Percent from `percentage.value`, else the deprecated integer, else `fallback`. */
export function percentOf(
  p: { readonly value?: number | undefined } | undefined,
  legacy: number | undefined,
  fallback: number,
): number {
  if (p !== undefined) return p.value ?? 0;
  if (legacy !== undefined) return legacy;
  return fallback;
}

/**
 * `HTTPRoute.fault` (istio route.go `TranslateFault`): a missing percentage
 * means 0% (the fault never fires); deprecated `delay.percent` is used only
 * when `percentage` is absent.
 */
export function compileFault(f: HTTPFaultInjectionIn | undefined): Fault | null {
  if (f === undefined) return null;
  const delayMs = toMs(f.delay?.fixedDelay);
  const delay =
    f.delay !== undefined && delayMs !== null
      ? { ms: delayMs, percent: percentOf(f.delay.percentage, f.delay.percent, 0) }
      : null;
  let abort: Fault['abort'] = null;
  if (f.abort !== undefined) {
    const percent = percentOf(f.abort.percentage, undefined, 0);
    if (f.abort.httpStatus !== undefined)
      abort = { httpStatus: f.abort.httpStatus, grpcStatus: null, percent };
    else if (f.abort.grpcStatus !== undefined)
      abort = { httpStatus: null, grpcStatus: f.abort.grpcStatus, percent };
  }
  if (delay === null && abort === null) return null;
  return { delay, abort };
}

/** `HTTPRoute.rewrite`: uri, authority, `uriRegexRewrite` (RE2 with `\1` groups). */
export function compileRewrite(r: HTTPRewriteIn | undefined): Rewrite | null {
  if (r === undefined) return null;
  let regex: Rewrite['regex'] = null;
  const rr = r.uriRegexRewrite;
  if (rr?.match !== undefined) {
    const re = RE2JS.compile(rr.match);
    // Envoy substitutes \1..\9; re2js uses $1.
    const replacement = (rr.rewrite ?? '').replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
    const text = `regex ${JSON.stringify(rr.match)} -> ${JSON.stringify(rr.rewrite ?? '')}`;
    regex = { describe: () => text, apply: (path) => re.matcher(path).replaceAll(replacement) };
  }
  return { uri: r.uri ?? null, authority: r.authority ?? null, regex };
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

/**
 * `HTTPRoute.redirect`: `redirectCode` defaults to 301; a non-empty `prefixRewrite`
 * wins over `uri` (istio route.go ApplyRedirect; the webhook allows only one).
 */
export function compileRedirect(r: HTTPRedirectIn): RouteAction {
  const derive =
    r.derivePort === 'FROM_PROTOCOL_DEFAULT' || r.derivePort === 'FROM_REQUEST_PORT' ? r.derivePort : null;
  const prefixRewrite = r.prefixRewrite !== undefined && r.prefixRewrite !== '' ? r.prefixRewrite : null;
  return {
    kind: 'redirect',
    uri: prefixRewrite === null ? (r.uri ?? null) : null,
    authority: r.authority ?? null,
    scheme: r.scheme ?? null,
    port: r.port ?? null,
    derivePort: derive,
    prefixRewrite,
    status: r.redirectCode !== undefined && REDIRECT_CODES.has(r.redirectCode) ? r.redirectCode : 301,
  };
}

/** `HTTPRoute.directResponse`: body string, or base64 `bytes` decoded to text. */
export function compileDirectResponse(d: HTTPDirectResponseIn): RouteAction {
  let body: string | null = null;
  if (d.body?.string !== undefined) body = d.body.string;
  else if (d.body?.bytes !== undefined) body = Buffer.from(d.body.bytes, 'base64').toString('utf8');
  return { kind: 'directResponse', status: d.status, body };
}

/**
 * `HTTPRoute.corsPolicy`. istiod (route.go TranslateCORSPolicy) takes `allowOrigins`, or when
 * it is empty the deprecated `allowOrigin` as exact matches. Envoy allows an origin when a
 * matcher matches it or matches `*` (cors_filter.cc isOriginAllowed), so `exact: "*"` or
 * `regex: ".*"` allow every origin.
 */
export function compileCors(c: CorsPolicyIn | undefined): CorsPolicy | null {
  if (c === undefined) return null;
  const given =
    (c.allowOrigins?.length ?? 0) > 0
      ? (c.allowOrigins ?? [])
      : (c.allowOrigin ?? []).map((o) => ({ exact: o }));
  const origins = given.map((m) => compileStringMatch(m));
  return {
    allowOrigins: origins.map((o) => o.describe()),
    originAllowed: (origin) => origins.some((o) => o.test('*') || o.test(origin)),
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    maxAgeMs: toMs(c.maxAge),
    allowCredentials: c.allowCredentials ?? null,
    unmatchedPreflights: c.unmatchedPreflights === 'IGNORE' ? 'IGNORE' : 'FORWARD',
  };
}
