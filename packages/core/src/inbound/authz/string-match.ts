/** A compiled test of one string value. */
export type StringTest = (value: string) => boolean;

/**
 * Istio's AuthorizationPolicy string value (istio authz/matcher/string.go
 * `StringMatcher`): `*` = present and non-empty (Envoy regex `.+`), `*abc`
 * suffix, `abc*` prefix, anything else exact. No inner wildcards.
 * With `ignoreCase` the pattern is lower-cased here and the caller passes a
 * lower-cased value (hosts, compared case-insensitively since CVE-2021-39155).
 */
export function istioString(pattern: string, ignoreCase = false): StringTest {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  if (p === '*') return (v) => v.length > 0;
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return (v) => v.endsWith(suffix);
  }
  if (p.endsWith('*')) {
    const prefix = p.slice(0, -1);
    return (v) => v.startsWith(prefix);
  }
  return (v) => v === p;
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
