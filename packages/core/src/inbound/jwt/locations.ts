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
}

/**
 * The locations one `JWTRule` reads: `fromHeaders`, `fromParams`, `fromCookies`; when none
 * is set, `Authorization: Bearer <token>` then `?access_token=` (envoy jwt_authn
 * extractor.cc `addProvider`).
 */
export function ruleLocations(rule: JWTRule): TokenLocation[] {
  const out: TokenLocation[] = [];
  for (const h of rule.fromHeaders ?? []) out.push(header(h.name, h.prefix ?? ''));
  for (const p of rule.fromParams ?? []) out.push({ kind: 'param', key: `p:${p}`, name: p });
  for (const c of rule.fromCookies ?? []) out.push({ kind: 'cookie', key: `c:${c}`, name: c });
  if (out.length === 0) {
    out.push(header('authorization', 'Bearer '));
    out.push({ kind: 'param', key: 'p:access_token', name: 'access_token' });
  }
  return out;
}

function header(name: string, prefix: string): TokenLocation {
  const lower = name.toLowerCase();
  // Envoy keys header locations by name + prefix (extractor.cc `addHeaderConfig`).
  return { kind: 'header', key: `h:${lower}\u0000${prefix}`, name: lower, prefix };
}

/**
 * Every token in the request at the given locations, in Envoy's order (headers, then query
 * parameters, then cookies; extractor.cc `extract`). A header location yields one token per
 * header line carrying the prefix; a header without the prefix is not a token (Envoy skips it:
 * "value_prefix not found anywhere in value_str, so skip"), so `Authorization: bearer x` and
 * `Authorization: Bearerx` are simply absent for a `"Bearer "` location.
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
    // The single-line case, on every request, without wrapping it in an array.
    if (typeof value === 'string') {
      const token = fromHeaderValue(value, loc.prefix);
      if (token !== null) found.push({ token, location: loc });
      continue;
    }
    for (const v of value) {
      const token = fromHeaderValue(v, loc.prefix);
      if (token !== null) found.push({ token, location: loc });
    }
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

/** Envoy's base64url alphabet plus `.` (extractor.cc `ConstantBase64UrlEncodingCharsPlusDot`). */
function isJwtChar(c: number): boolean {
  return (
    (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 46
  );
}

/**
 * The prefix is searched anywhere in the value (`value_str.find`), then the token starts at
 * the first JWT character after it and runs to the end; with no JWT character at all the
 * whole header value is the token (extractor.cc `extractJWT`, kept for compatibility).
 */
function fromHeaderValue(value: string, prefix: string): string | null {
  if (prefix === '') return value;
  const at = value.indexOf(prefix);
  if (at < 0) return null;
  for (let i = at + prefix.length; i < value.length; i++) {
    if (isJwtChar(value.charCodeAt(i))) return value.slice(i);
  }
  return value;
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

/** Cookie pairs from every `Cookie` header; the first wins; quotes around a value are removed (Envoy `parseCookies`). */
function parseCookies(header: string | readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of typeof header === 'string' ? [header] : header) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name !== '' && !out.has(name)) out.set(name, value);
    }
  }
  return out;
}
