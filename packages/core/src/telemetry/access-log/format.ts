import type { AccessLogEntry } from './entry.js';
import { operator, type Extractor, type OperatorValue } from './operators.js';

/** A format meshlet could not fully understand; the line still prints, with `-` for it. */
export interface FormatProblem {
  readonly operator: string;
  readonly message: string;
}

/** A compiled access log format: one line (newline included) per entry. */
export type LineFormatter = (entry: AccessLogEntry) => string;

/** One command at the start of the text (envoy substitution_formatter.cc commandWithArgsRegex). */
const COMMAND = /^%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::(\d+))?%/;

type Part = string | { readonly get: Extractor; readonly max: number | null };

const UNSET: Extractor = () => null;

/**
 * Split a format into text and operators as Envoy's parser does: `%%` is a literal `%`; a
 * `%` that starts no command makes Envoy refuse the format (meshlet keeps it as text and
 * reports it).
 */
function parse(format: string, problems: FormatProblem[]): Part[] {
  const parts: Part[] = [];
  let text = '';
  let i = 0;
  while (i < format.length) {
    const pc = format.indexOf('%', i);
    if (pc < 0) {
      text += format.slice(i);
      break;
    }
    text += format.slice(i, pc);
    if (format[pc + 1] === '%') {
      text += '%';
      i = pc + 2;
      continue;
    }
    const m = COMMAND.exec(format.slice(pc));
    if (m === null) {
      problems.push({
        operator: format.slice(pc, pc + 20),
        message: `Envoy refuses the access log format: no valid command at position ${pc}; meshlet prints it as text`,
      });
      text += '%';
      i = pc + 1;
      continue;
    }
    if (text !== '') parts.push(text);
    text = '';
    const [whole, name = '', arg, max] = m;
    i = pc + whole.length;
    const got = operator(name, arg ?? null);
    if (got === null || typeof got !== 'function') {
      problems.push({
        operator: whole,
        message:
          got === null
            ? `access log operator ${whole} is not supported by meshlet; it prints "-"`
            : `access log operator ${whole}: ${got.problem}`,
      });
      parts.push({ get: UNSET, max: null });
    } else {
      parts.push({ get: got, max: max === undefined ? null : Number(max) });
    }
  }
  if (text !== '') parts.push(text);
  return parts;
}

function truncate(v: OperatorValue, max: number | null): OperatorValue {
  return max !== null && typeof v === 'string' && v.length > max ? v.slice(0, max) : v;
}

/** `-` for an unset value, or '' with `omit_empty_values`. */
function render(parts: readonly Part[], entry: AccessLogEntry, unset: string): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else {
      const v = truncate(p.get(entry), p.max);
      out += v === null ? unset : String(v);
    }
  }
  return out;
}

/**
 * Compile a TEXT format string. Unset values print `-` (Envoy), or nothing with
 * `omitEmptyValues` (SubstitutionFormatString.omit_empty_values). As istiod does, a
 * format that does not end in a newline gets one.
 */
export function compileTextFormat(
  format: string,
  problems: FormatProblem[] = [],
  omitEmptyValues = false,
): LineFormatter {
  const withNewline = format.endsWith('\n') ? format : `${format}\n`;
  const parts = parse(withNewline, problems);
  const unset = omitEmptyValues ? '' : '-';
  return (entry) => render(parts, entry, unset);
}

/** A JSON format: keys to format strings, nested objects allowed (Envoy `json_format`). */
export interface JsonFormat {
  readonly [key: string]: string | JsonFormat;
}

type JsonNode =
  | { readonly kind: 'value'; readonly parts: Part[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonNode])[] };

function compileNode(value: string | JsonFormat, problems: FormatProblem[]): JsonNode {
  if (typeof value === 'string') return { kind: 'value', parts: parse(value, problems) };
  // Sorted keys: Envoy serialises the format's protobuf Struct, whose keys come out
  // ordered, which is what Istio's documented JSON lines show.
  const keys = Object.keys(value).sort();
  return {
    kind: 'object',
    entries: keys.map((k) => [k, compileNode(value[k] as string | JsonFormat, problems)] as const),
  };
}

function evaluate(node: JsonNode, entry: AccessLogEntry, omit: boolean): unknown {
  if (node.kind === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, child] of node.entries) {
      const v = evaluate(child, entry, omit);
      // omit_empty_values: keys with null values are left out.
      if (!(omit && v === null)) out[k] = v;
    }
    return out;
  }
  const [only] = node.parts;
  // A value that is exactly one operator keeps its type: numbers stay numbers, unset is null.
  if (node.parts.length === 1 && only !== undefined && typeof only !== 'string')
    return truncate(only.get(entry), only.max);
  return render(node.parts, entry, omit ? '' : '-');
}

/** Compile a JSON format into one JSON object per line; `omitEmptyValues` leaves null keys out. */
export function compileJsonFormat(
  format: JsonFormat,
  problems: FormatProblem[] = [],
  omitEmptyValues = false,
): LineFormatter {
  const root = compileNode(format, problems);
  return (entry) => `${JSON.stringify(evaluate(root, entry, omitEmptyValues))}\n`;
}

/**
 * Parse meshConfig `accessLogFormat` for JSON encoding: a JSON object whose values are
 * format strings (or objects). Anything else falls back to Istio's default keys, as
 * istiod does (`telemetry_logging.go`, "invalid json object" case).
 */
export function parseJsonFormat(text: string): JsonFormat | null {
  if (text.trim() === '') return null;
  try {
    const v: unknown = JSON.parse(text);
    return isJsonFormat(v) ? v : null;
  } catch {
    return null;
  }
}

function isJsonFormat(v: unknown): v is JsonFormat {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => typeof x === 'string' || isJsonFormat(x));
}
