import type { z } from 'zod';
import type { FieldPath } from '../diagnostic.js';
import type { Finding } from './context.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${typeof value} ${value}`;
  return typeof value;
}

function article(type: string): string {
  const names: Record<string, string> = {
    object: 'an object',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'a boolean (true or false)',
    record: 'an object (a map)',
  };
  return names[type] ?? type;
}

/** Edit distance, for "did you mean" hints on unknown fields. */
function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min(
        (dp[j] as number) + 1,
        (dp[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}

export function suggest(key: string, known: readonly string[]): string | null {
  const snake = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  if (snake !== key && known.includes(snake)) return snake;
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : null;
}

/**
 * Turns zod issues into findings with readable messages. `knownKeys` lets an
 * unknown-field finding suggest the field that was probably meant.
 */
export function zodIssuesToFindings(
  issues: readonly z.core.$ZodIssue[],
  prefix: FieldPath,
  knownKeysAt?: (path: FieldPath) => readonly string[],
): Finding[] {
  const out: Finding[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const hint = suggest(key, knownKeysAt?.(path) ?? []);
          out.push({
            level: 'Error',
            code: 'IST0106',
            path: [...path, key],
            message: `unknown field ${JSON.stringify(key)}${hint === null ? ' (remove it or check the spelling)' : ` (did you mean ${JSON.stringify(hint)}?)`}`,
          });
        }
        break;
      case 'invalid_type':
        // A schema can word its own type error (durations do); zod's default starts "Invalid input".
        if (issue.input !== undefined && !issue.message.startsWith('Invalid input')) {
          out.push({ level: 'Error', code: 'IST0106', path, message: issue.message });
          break;
        }
        out.push({
          level: 'Error',
          code: 'IST0106',
          path,
          message:
            issue.input === undefined
              ? `Required value: ${article(issue.expected)} is required`
              : `expected ${article(issue.expected)}, got ${describe(issue.input)}`,
        });
        break;
      case 'invalid_value':
        out.push({
          level: 'Error',
          code: 'IST0106',
          path,
          message: `Unsupported value: ${JSON.stringify(issue.input)}: supported values: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        });
        break;
      case 'invalid_union': {
        // Report the branch that got furthest, so the user sees the real problem.
        const branches = 'errors' in issue ? issue.errors : [];
        const best = [...branches].sort((a, b) => a.length - b.length)[0];
        if (best !== undefined && best.length > 0) out.push(...zodIssuesToFindings(best, path, knownKeysAt));
        else out.push({ level: 'Error', code: 'IST0106', path, message: issue.message });
        break;
      }
      case 'too_small':
        out.push({
          level: 'Error',
          code: 'IST0106',
          path,
          message:
            issue.origin === 'string'
              ? `in body should be at least ${String(issue.minimum)} chars long`
              : issue.origin === 'array'
                ? `should have at least ${String(issue.minimum)} items`
                : `Invalid value: ${describe(issue.input)}: should be greater than or equal to ${String(issue.minimum)}`,
        });
        break;
      case 'too_big':
        out.push({
          level: 'Error',
          code: 'IST0106',
          path,
          message: `Invalid value: ${describe(issue.input)}: should be less than or equal to ${String(issue.maximum)}`,
        });
        break;
      default:
        out.push({ level: 'Error', code: 'IST0106', path, message: issue.message });
    }
  }
  return out;
}
