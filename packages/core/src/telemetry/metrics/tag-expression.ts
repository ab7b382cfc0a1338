import type { MetricEvent } from './metric-event.js';

/** A compiled tag override value: reads what it needs from the event. */
export interface TagValue {
  /** True when the value is the same for every event (a literal). */
  readonly constant: boolean;
  readonly evaluate: (event: MetricEvent) => string;
  readonly describe: () => string;
}

/** Why an expression could not be compiled; the tag then reads `unknown`, as a failed CEL evaluation does in Envoy. */
export interface TagExpressionProblem {
  readonly expression: string;
  readonly message: string;
}

const UNKNOWN = 'unknown';

function urlPath(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function headerValue(event: MetricEvent, name: string): string {
  const v = event.headers?.[name];
  if (v === undefined) return UNKNOWN;
  return typeof v === 'string' ? v : v.join(',');
}

const HEADER = /^request\.headers\[\s*(['"])([^'"]+)\1\s*\]$/;
const LITERAL = /^(['"])((?:[^'"\\]|\\.)*)\1$/;
const NUMBER = /^-?\d+(\.\d+)?$/;

/** Attributes (Envoy attribute names, as Istio documents them for tagOverrides) meshlet can evaluate. */
const ATTRIBUTES: Readonly<Record<string, (e: MetricEvent) => string>> = {
  'request.method': (e) => e.method ?? UNKNOWN,
  'request.host': (e) =>
    headerValue(e, ':authority') !== UNKNOWN ? headerValue(e, ':authority') : headerValue(e, 'host'),
  // Envoy's attributes: `request.path` keeps the query, `request.url_path` drops it, and
  // `request.protocol` is the HTTP version (envoy docs arch_overview/advanced/attributes).
  'request.path': (e) => e.path ?? UNKNOWN,
  'request.url_path': (e) => (e.path === undefined ? UNKNOWN : urlPath(e.path)),
  'request.protocol': (e) => `HTTP/${e.httpVersion ?? '1.1'}`,
  'response.code': (e) => String(e.status),
  'destination.port': (e) => String(e.port),
};

/**
 * Compile a tagOverrides `value` (a CEL expression in Istio). meshlet evaluates the
 * forms used in practice: a string or number literal (`'v1'`), a request header
 * (`request.headers['x-user']`, `unknown` when absent) and a few request attributes
 * (`request.method`, `request.host`, `request.path`, `request.url_path`, `request.protocol`,
 * `response.code`, `destination.port`). Anything else is reported and reads `unknown`.
 */
export function compileTagExpression(expression: string): {
  value: TagValue;
  problem: TagExpressionProblem | null;
} {
  let src = expression.trim();
  // `string(destination.port)` as Istio's docs write it: every value is a string here.
  const cast = /^string\((.*)\)$/.exec(src);
  if (cast !== null) src = (cast[1] ?? '').trim();
  const literal = LITERAL.exec(src);
  if (literal !== null) {
    const v = (literal[2] ?? '').replace(/\\(.)/g, '$1');
    return { value: { constant: true, evaluate: () => v, describe: () => JSON.stringify(v) }, problem: null };
  }
  if (NUMBER.test(src)) {
    return { value: { constant: true, evaluate: () => src, describe: () => src }, problem: null };
  }
  const header = HEADER.exec(src);
  if (header !== null) {
    const name = (header[2] ?? '').toLowerCase();
    return {
      value: {
        constant: false,
        evaluate: (e) => headerValue(e, name),
        describe: () => `request.headers['${name}']`,
      },
      problem: null,
    };
  }
  const attribute = ATTRIBUTES[src];
  if (attribute !== undefined) {
    return { value: { constant: false, evaluate: attribute, describe: () => src }, problem: null };
  }
  return {
    value: { constant: true, evaluate: () => UNKNOWN, describe: () => `unsupported(${src})` },
    problem: {
      expression,
      message: `meshlet cannot evaluate the CEL expression ${JSON.stringify(expression)}; the tag reads "unknown"`,
    },
  };
}
