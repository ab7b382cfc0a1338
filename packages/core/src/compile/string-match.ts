import { RE2JS } from 're2js';
import type { StringMatchIn } from './spec-types.js';

/** A compiled Istio `StringMatch`; `undefined` input (header absent) never matches a value. */
export interface StringMatcher {
  readonly test: (value: string) => boolean;
  readonly describe: () => string;
  /** `{}` (or no field set): presence only. */
  readonly presence: boolean;
}

/**
 * Compiles an Istio `StringMatch` once: `exact`, `prefix`, or `regex` (RE2,
 * the whole value must match, as Envoy's `safe_regex`). `ignoreCase` applies to
 * exact/prefix only (`ignoreUriCase`); an empty match object is a presence test.
 */
export function compileStringMatch(m: StringMatchIn, ignoreCase = false): StringMatcher {
  if (m.exact !== undefined) {
    const want = ignoreCase ? m.exact.toLowerCase() : m.exact;
    const text = `exact ${JSON.stringify(m.exact)}${ignoreCase ? ' (ignore case)' : ''}`;
    return {
      test: ignoreCase ? (v) => v.toLowerCase() === want : (v) => v === want,
      describe: () => text,
      presence: false,
    };
  }
  if (m.prefix !== undefined) {
    const want = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    const text = `prefix ${JSON.stringify(m.prefix)}${ignoreCase ? ' (ignore case)' : ''}`;
    return {
      test: ignoreCase ? (v) => v.toLowerCase().startsWith(want) : (v) => v.startsWith(want),
      describe: () => text,
      presence: false,
    };
  }
  if (m.regex !== undefined) {
    // Istio's validation accepts `*` for header presence; Envoy would reject it, Istio translates it.
    if (m.regex === '*') return { test: () => true, describe: () => 'present', presence: true };
    const re = RE2JS.compile(m.regex);
    const text = `regex ${JSON.stringify(m.regex)}`;
    return { test: (v) => re.matches(v), describe: () => text, presence: false };
  }
  return { test: () => true, describe: () => 'present', presence: true };
}
