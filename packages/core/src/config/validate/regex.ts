import { RE2JS } from 're2js';

/** Istio rejects regexes longer than this (`validateStringMatchRegexp`). */
export const MAX_REGEX_LENGTH = 1024;

/** RE2 validity as Istio's webhook checks it; returns a message or null. */
export function checkRe2(pattern: string): string | null {
  if (pattern === '') return 'regex string match should not be empty';
  if (pattern.length > MAX_REGEX_LENGTH) {
    return `regex is too large, max length allowed is ${MAX_REGEX_LENGTH}`;
  }
  try {
    RE2JS.compile(pattern);
    return null;
  } catch (err) {
    return `"${pattern}" is not a valid RE2 regex: ${err instanceof Error ? err.message : String(err)}`;
  }
}
