import { RE2JS } from 're2js';
import type { Match } from './source-match.js';
import { quoteMeta } from './string-match.js';
import { headerPattern, istioPattern, type StringPattern } from './string-set.js';

// envoy uri_template_lib `kLiteral`: what a path segment may hold.
const LITERAL = "a-zA-Z0-9\\-._~%!$&'()+,;:@=";

/** Whether a `paths` value is a template (`{*}` / `{**}`), istio security.go `ContainsPathTemplate`. */
export function isPathTemplate(value: string): boolean {
  return value.includes('{*}') || value.includes('{**}');
}

/**
 * A path template as Envoy's `uri_template` matcher runs it: `{*}` is one
 * non-empty segment (`[literal]+`), `{**}` any run of segments (`[literal/]*`),
 * the rest literal; the whole path must match.
 */
export function pathTemplateRegex(value: string): string {
  return value
    .split('/')
    .map((seg) => (seg === '{*}' ? `[${LITERAL}]+` : seg === '{**}' ? `[${LITERAL}/]*` : quoteMeta(seg)))
    .join('/');
}

/**
 * A `paths` / `notPaths` value, tested against the normalized path (no query, no
 * fragment): exact, `prefix*`, `*suffix`, `*` (any non-empty), or a template.
 * Case-sensitive.
 */
export function pathPattern(value: string): StringPattern {
  if (isPathTemplate(value)) {
    const re = RE2JS.compile(pathTemplateRegex(value));
    return { kind: 'test', test: (path) => re.matches(path) };
  }
  return istioPattern(value);
}

/**
 * A `hosts` / `notHosts` value, tested against `:authority` case-insensitively
 * (CVE-2021-39155), the port NOT stripped: `example.com` misses `example.com:8080`.
 */
export function hostPattern(value: string): StringPattern {
  return istioPattern(value, true);
}

/** A `methods` / `notMethods` value: case-sensitive; `*` is any method. */
export function methodPattern(value: string): StringPattern {
  return headerPattern(value);
}

/** `ports` / `notPorts` / `destination.port`: the workload port the request arrived on. */
export function portMatch(value: string): Match {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new Error(`bad port (${value})`);
  const port = Number(value);
  return (i) => i.port === port;
}
