import type { ConsistentHash } from '../compile/traffic-policy.js';
import { headerValue, type HeaderRecord } from './request-input.js';

/**
 * The consistent-hash key of a request (`loadBalancer.consistentHash`), the text Envoy's
 * hash policy feeds to xxHash64 (envoy source/common/http/hash_policy.cc): a header, a
 * cookie, a query parameter, or the source IP — a client always has one source address,
 * so every call of this workload hashes alike. Null when Envoy computes no hash (it then
 * picks at random).
 */
export function hashKeyOf(
  ch: ConsistentHash | null,
  headers: Readonly<HeaderRecord>,
  path: string,
  sourceKey: string,
): string | null {
  if (ch === null) return null;
  const k = ch.key;
  switch (k.kind) {
    case 'header':
      return headerValue(headers, k.name) ?? null;
    case 'sourceIp':
      return sourceKey;
    case 'queryParameter':
      return queryParameter(path, k.name);
    case 'cookie': {
      // An empty value hashes nothing (hash_policy.cc CookieHashMethod: `!value.empty()`).
      const value = cookieValue(headers['cookie'], k.name);
      return value === null || value === '' ? null : value;
    }
  }
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

/**
 * The first cookie called `name` across the `cookie` headers, as Envoy's `forEachCookie`
 * (utility.cc): split on `;`, leading spaces dropped, the name up to the first `=`, the
 * value the rest as it is, minus one pair of surrounding double quotes.
 */
function cookieValue(raw: string | readonly string[] | undefined, name: string): string | null {
  if (raw === undefined) return null;
  const lines = typeof raw === 'string' ? [raw] : raw;
  for (const line of lines) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (part === '' || eq === -1) continue;
      let first = 0;
      while (part.charCodeAt(first) === 0x20) first++;
      if (part.slice(first, eq) !== name) continue;
      const v = part.slice(eq + 1);
      return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
    }
  }
  return null;
}
