import type { StringTest } from './string-match.js';

/**
 * One value of an AuthorizationPolicy string field, classified once (istio
 * authz/matcher/string.go `StringMatcher` and header.go `HeaderMatcher`): exact,
 * `abc*` prefix, `*abc` suffix, `*` (non-empty; for a header or method, present), or
 * a test of its own (a path template).
 */
export type StringPattern =
  | { readonly kind: 'exact' | 'prefix' | 'suffix'; readonly text: string }
  | { readonly kind: 'non-empty' | 'present' }
  | { readonly kind: 'test'; readonly test: StringTest };

/** Istio's string value; with `ignoreCase` the pattern is lower-cased (hosts). */
export function istioPattern(pattern: string, ignoreCase = false): StringPattern {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  if (p === '*') return { kind: 'non-empty' };
  if (p.startsWith('*')) return { kind: 'suffix', text: p.slice(1) };
  if (p.endsWith('*')) return { kind: 'prefix', text: p.slice(0, -1) };
  return { kind: 'exact', text: p };
}

/** Istio's header value: `*` is Envoy's `present_match` (an empty value counts). */
export function headerPattern(pattern: string): StringPattern {
  return pattern === '*' ? { kind: 'present' } : istioPattern(pattern);
}

/** Above this many exact values a Set lookup beats comparing each. */
const SET_THRESHOLD = 8;

/**
 * The values of one field (`paths`, `methods`, `hosts`) as a single test that holds
 * when any value matches: the same answer as testing each value in turn, in one
 * monomorphic call instead of a closure per value (a decision with ten policies
 * spent most of its time calling those).
 */
export class AnyOfStrings {
  readonly #always: boolean;
  readonly #nonEmpty: boolean;
  readonly #exact: readonly string[];
  readonly #exactSet: ReadonlySet<string> | null;
  readonly #prefixes: readonly string[];
  readonly #suffixes: readonly string[];
  readonly #tests: readonly StringTest[];

  constructor(patterns: readonly StringPattern[]) {
    const exact: string[] = [];
    const prefixes: string[] = [];
    const suffixes: string[] = [];
    const tests: StringTest[] = [];
    let always = false;
    let nonEmpty = false;
    for (const p of patterns) {
      if (p.kind === 'exact') exact.push(p.text);
      else if (p.kind === 'prefix') prefixes.push(p.text);
      else if (p.kind === 'suffix') suffixes.push(p.text);
      else if (p.kind === 'present') always = true;
      else if (p.kind === 'non-empty') nonEmpty = true;
      else if (p.kind === 'test') tests.push(p.test);
    }
    this.#always = always;
    this.#nonEmpty = nonEmpty;
    this.#exact = exact;
    this.#exactSet = exact.length > SET_THRESHOLD ? new Set(exact) : null;
    this.#prefixes = prefixes;
    this.#suffixes = suffixes;
    this.#tests = tests;
  }

  matches(v: string): boolean {
    if (this.#always || (this.#nonEmpty && v.length > 0)) return true;
    if (this.#exactSet !== null) {
      if (this.#exactSet.has(v)) return true;
    } else {
      const exact = this.#exact;
      for (let k = 0; k < exact.length; k++) if (exact[k] === v) return true;
    }
    const prefixes = this.#prefixes;
    for (let k = 0; k < prefixes.length; k++) if (v.startsWith(prefixes[k] as string)) return true;
    const suffixes = this.#suffixes;
    for (let k = 0; k < suffixes.length; k++) if (v.endsWith(suffixes[k] as string)) return true;
    const tests = this.#tests;
    for (let k = 0; k < tests.length; k++) if ((tests[k] as StringTest)(v)) return true;
    return false;
  }
}
