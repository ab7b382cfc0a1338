import type { ConsistentHash } from '../compile/traffic-policy.js';
import { parseCookies } from '../runtime/envoy-cookies.js';
import type { Random } from '../runtime/random.js';
import { ipText } from './ip-text.js';
import type { HeaderRecord } from './request-input.js';
import { randomHash, type HashKey } from './upstream/hash.js';

/**
 * The consistent-hash key of a request (`loadBalancer.consistentHash`), the text Envoy's
 * hash policy feeds to xxHash64 (envoy source/common/http/hash_policy.cc): a header (every
 * value when sent several times), a cookie, a query parameter, or the source IP. The
 * source IP is `sourceKey()` (this workload's address, source-address.ts), asked for only
 * then, unless the request carries x-forwarded-for. Null when Envoy computes no hash (it
 * then picks at random).
 */
export function hashKeyOf(
  ch: ConsistentHash | null,
  headers: Readonly<HeaderRecord>,
  path: string,
  sourceKey: () => string,
): HashKey {
  if (ch === null) return null;
  const k = ch.key;
  switch (k.kind) {
    case 'header':
      return headerKey(headers[k.name]);
    case 'sourceIp':
      return forwardedFor(headers['x-forwarded-for']) ?? sourceKey();
    case 'queryParameter':
      return queryParameter(path, k.name);
    case 'cookie': {
      // An empty value hashes nothing (hash_policy.cc CookieHashMethod: `!value.empty()`).
      const raw = headers['cookie'];
      const value = raw === undefined ? undefined : parseCookies(raw).get(k.name);
      return value === undefined || value === '' ? null : value;
    }
  }
}

/**
 * The downstream address a sidecar's outbound listener takes from x-forwarded-for: Istio
 * leaves `use_remote_address` off there (pilot listener.go), so Envoy's
 * conn_manager_utility.cc uses the last address in the header (http/utility.cc
 * getLastAddressFromXFF with no trusted hops: the text after the last `,`, trimmed, when it
 * parses as an IP; an inline header, so repeated lines are joined with `,` first), printed
 * back as Envoy's `addressAsString`. Null when absent or not an IP.
 */
function forwardedFor(v: string | readonly string[] | undefined): string | null {
  if (v === undefined) return null;
  const all = typeof v === 'string' ? v : v.join(',');
  const comma = all.lastIndexOf(',');
  const last = comma !== -1 && comma + 1 < all.length ? all.slice(comma + 1) : all;
  return ipText(last.replace(/^[ \t\f\v\n\r]+|[ \t\f\v\n\r]+$/g, ''));
}

/**
 * Every value of the header: Envoy hashes each header line's entry, sorted and chained
 * (hash_policy.cc HeaderHashMethod), and an array here is sent as one line per value. One
 * value stays a plain string, hashed as such at no extra cost.
 */
function headerKey(v: string | readonly string[] | undefined): HashKey {
  if (v === undefined) return null;
  if (typeof v === 'string') return v;
  return v.length === 0 ? null : v.length === 1 ? v[0]! : v;
}

/**
 * The first value of `name` in the raw query, as Envoy's `QueryParamsMulti::parseQueryString`
 * + `getFirstValue` (utility.cc): split on `&`, name before the first `=`, value after it or
 * "" without one, and no percent- or `+`-decoding.
 */
function queryParameter(path: string, name: string): string | null {
  const q = path.indexOf('?');
  if (q === -1) return null;
  let start = q + 1;
  while (start < path.length) {
    let end = path.indexOf('&', start);
    if (end === -1) end = path.length;
    const eq = path.indexOf('=', start);
    const hasValue = eq !== -1 && eq < end;
    if (path.slice(start, hasValue ? eq : end) === name) return hasValue ? path.slice(eq + 1, end) : '';
    start = end + 1;
  }
  return null;
}

/** A cookie the mesh issues for `httpCookie` with a `ttl`: its value (the hash key) and `Set-Cookie`. */
export interface IssuedCookie {
  readonly value: string;
  readonly setCookie: string;
}

/**
 * The cookie to issue for a request that lacks the `httpCookie` cookie when the policy has a
 * `ttl` (envoy hash_policy.cc CookieHashMethod), else null. Envoy's value is the hex of a
 * 64-bit xxHash64 of the downstream connection's addresses (router.cc
 * addDownstreamSetCookie), so each new client connection gets its own; an in-process call
 * has no such connection, so meshlet draws the 64 bits at random. The header is
 * http/utility.cc makeSetCookieValue's: the value quoted, `Max-Age` in whole seconds unless
 * zero (a session cookie), `Path`, the attributes in order, `HttpOnly`.
 */
export function cookieToIssue(
  ch: ConsistentHash | null,
  headers: HeaderRecord,
  random: Random,
): IssuedCookie | null {
  if (ch === null || ch.key.kind !== 'cookie' || ch.key.ttlMs === null) return null;
  const { name, path, ttlMs, attributes } = ch.key;
  const raw = headers['cookie'];
  const sent = raw === undefined ? undefined : parseCookies(raw).get(name);
  if (sent !== undefined && sent !== '') return null;
  const h = randomHash(random);
  const value = h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
  let setCookie = `${name}="${value}"`;
  const maxAge = Math.floor(ttlMs / 1000);
  if (maxAge !== 0) setCookie += `; Max-Age=${maxAge}`;
  if (path !== null && path !== '') setCookie += `; Path=${path}`;
  for (const a of attributes) setCookie += a.value === null ? `; ${a.name}` : `; ${a.name}=${a.value}`;
  return { value, setCookie: `${setCookie}; HttpOnly` };
}
