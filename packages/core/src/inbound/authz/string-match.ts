import { istioPattern } from './string-set.js';

/** A compiled test of one string value. */
export type StringTest = (value: string) => boolean;

/**
 * Istio's AuthorizationPolicy string value (istio authz/matcher/string.go
 * `StringMatcher`, classified by `istioPattern`): `*` = present and non-empty (Envoy
 * regex `.+`), `*abc` suffix, `abc*` prefix, anything else exact. No inner wildcards.
 * With `ignoreCase` the pattern is lower-cased here and the caller passes a
 * lower-cased value (hosts, compared case-insensitively since CVE-2021-39155).
 */
export function istioString(pattern: string, ignoreCase = false): StringTest {
  const p = istioPattern(pattern, ignoreCase);
  switch (p.kind) {
    case 'non-empty':
      return (v) => v.length > 0;
    case 'suffix':
      return (v) => v.endsWith(p.text);
    case 'prefix':
      return (v) => v.startsWith(p.text);
    case 'exact':
      return (v) => v === p.text;
  }
  // istioPattern makes only the four kinds above.
  throw new Error(`unexpected string pattern ${p.kind}`);
}

/**
 * Istio's header value (authz/matcher/header.go `HeaderMatcher`): like
 * {@link istioString} except `*`, which is Envoy's `present_match` (an empty value
 * counts as present).
 */
export function headerString(pattern: string): StringTest {
  return pattern === '*' ? () => true : istioString(pattern);
}

/** Escapes RE2 metacharacters (Go `regexp.QuoteMeta`). */
export function quoteMeta(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}
