import { parseCookies } from '../../runtime/envoy-cookies.js';
import type { JWTRule } from '../../config/schema/request-authentication.js';
import type { InboundRequest } from '../engine-types.js';

/** Where a token may be: a header (with a value prefix), a query parameter, or a cookie. */
export type TokenLocation =
  | { readonly kind: 'header'; readonly key: string; readonly name: string; readonly prefix: string }
  | { readonly kind: 'param'; readonly key: string; readonly name: string }
  | { readonly kind: 'cookie'; readonly key: string; readonly name: string };

/** A token found in a request, and the location it came from. */
export interface FoundToken {
  readonly token: string;
  readonly location: TokenLocation;
  /** A header value taken whole: no base64url character follows its prefix (see {@link jwtRun}). */
  readonly whole?: true;
}

/**
 * The locations one `JWTRule` reads: `fromHeaders`, `fromParams`, `fromCookies`; when none
 * is set, `Authorization: Bearer <token>` then `?access_token=` (envoy jwt_authn
 * extractor.cc `addProvider`). Each location once, in the order Envoy's extractor yields
 * tokens: headers by name + prefix, then parameters, then cookies, each kind sorted (its
 * `std::map`/`btree_map` keys), whatever order the rule lists them in.
 */
export function ruleLocations(rule: JWTRule): TokenLocation[] {
  const headers = new Map<string, TokenLocation>();
  const params = new Map<string, TokenLocation>();
  const cookies = new Map<string, TokenLocation>();
  for (const h of rule.fromHeaders ?? []) {
    const loc = header(h.name, h.prefix ?? '');
    headers.set(loc.key, loc);
  }
  for (const p of rule.fromParams ?? []) params.set(p, { kind: 'param', key: `p:${p}`, name: p });
  for (const c of rule.fromCookies ?? []) cookies.set(c, { kind: 'cookie', key: `c:${c}`, name: c });
  if (headers.size + params.size + cookies.size === 0) {
    return [
      header('authorization', 'Bearer '),
      { kind: 'param', key: 'p:access_token', name: 'access_token' },
    ];
  }
  return [...sorted(headers), ...sorted(params), ...sorted(cookies)];
}

function header(name: string, prefix: string): TokenLocation {
  const lower = name.toLowerCase();
  // Envoy keys header locations by name + prefix (extractor.cc `addHeaderConfig`).
  return { kind: 'header', key: `h:${lower}\u0000${prefix}`, name: lower, prefix };
}

/** Map values by key in byte order (the keys here are header names, parameter and cookie names). */
function sorted(m: Map<string, TokenLocation>): TokenLocation[] {
  return [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => m.get(k) as TokenLocation);
}

/**
 * The token at each of the given locations that has one (at most one per location). A header
 * location reads all lines of its header joined with "," (Envoy
 * `HeaderUtility::getAllOfHeaderAsString`), so a repeated header is one value; a value without
 * the prefix is not a token (Envoy skips it: "value_prefix not found anywhere in value_str, so
 * skip"), so `Authorization: bearer x` and `Authorization: Bearerx` are simply absent for a
 * `"Bearer "` location.
 */
export function extractTokens(locations: readonly TokenLocation[], req: InboundRequest): FoundToken[] {
  const found: FoundToken[] = [];
  // Indexed loops: this runs on every request, and V8 (11.x) does not lower `for...of`
  // over the compiled (frozen) location arrays.
  for (let i = 0; i < locations.length; i++) {
    const loc = locations[i] as TokenLocation;
    if (loc.kind !== 'header') continue;
    const value = req.headers[loc.name];
    if (value === undefined) continue;
    const v = typeof value === 'string' ? value : value.join(',');
    if (loc.prefix === '') {
      found.push({ token: v, location: loc });
      continue;
    }
    const start = tokenStart(v, loc.prefix);
    if (start < 0) continue;
    found.push(
      start < v.length ? { token: v.slice(start), location: loc } : { token: v, location: loc, whole: true },
    );
  }
  // A request without a query or a Cookie header has no token there: nothing to parse.
  if (req.url.includes('?')) {
    let query: Map<string, string> | null = null;
    for (let i = 0; i < locations.length; i++) {
      const loc = locations[i] as TokenLocation;
      if (loc.kind !== 'param') continue;
      query ??= parseQuery(req.url);
      const token = query.get(loc.name);
      if (token !== undefined) found.push({ token, location: loc });
    }
  }
  const cookieHeader = req.headers['cookie'];
  if (cookieHeader !== undefined) {
    let cookies: Map<string, string> | null = null;
    for (let i = 0; i < locations.length; i++) {
      const loc = locations[i] as TokenLocation;
      if (loc.kind !== 'cookie') continue;
      cookies ??= parseCookies(cookieHeader);
      const token = cookies.get(loc.name);
      if (token !== undefined) found.push({ token, location: loc });
    }
  }
  return found;
}

/**
 * Where the token starts in a header value: the prefix is searched anywhere in the value
 * (`value_str.find`), and the token starts at the first base64url character or dot after it;
 * -1 when the prefix is absent; the value's length when no such character follows, and Envoy
 * then takes the whole header value (extractor.cc `extractJWT`, kept there for compatibility).
 * Envoy also ends the token before the next other character: that cut is {@link jwtRun}, left
 * to the caller, since a token that was verified before has no such character and needs no scan.
 */
function tokenStart(value: string, prefix: string): number {
  const at = value.indexOf(prefix);
  if (at < 0) return -1;
  let i = at + prefix.length;
  while (i < value.length && !isJwtChar(value.charCodeAt(i))) i++;
  return i;
}

/** Anything but Envoy's base64url alphabet plus `.` (extractor.cc `ConstantBase64UrlEncodingCharsPlusDot`). */
const NON_JWT_CHAR = /[^A-Za-z0-9_.-]/;

/**
 * The token Envoy extracts from what {@link extractTokens} found: for a header location with a
 * prefix, the run of base64url characters and dots it starts with (extractor.cc `extractJWT`);
 * anything else as found.
 */
export function jwtRun(found: FoundToken): string {
  const { token, location } = found;
  if (location.kind !== 'header' || location.prefix === '' || found.whole === true) return token;
  const end = NON_JWT_CHAR.exec(token);
  return end === null ? token : token.slice(0, end.index);
}

function isJwtChar(c: number): boolean {
  return (
    (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 46
  );
}

/** The first value of each query parameter, percent-decoded (Envoy `QueryParamsMulti::getFirstValue`). */
function parseQuery(url: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = url.indexOf('?');
  if (q < 0) return out;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? url.length : hash);
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq < 0 ? pair : pair.slice(0, eq));
    if (!out.has(name)) out.set(name, eq < 0 ? '' : decode(pair.slice(eq + 1)));
  }
  return out;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
