import type { AccessLogEntry } from './entry.js';

/** A compiled Telemetry `accessLogging[].filter.expression`. */
export type EntryFilter = (entry: AccessLogEntry) => boolean;

type Value = string | number | boolean | null;
type Node = (e: AccessLogEntry) => Value;

const TOKEN =
  /\s*(?:(\d+(?:\.\d+)?)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(==|!=|>=|<=|&&|\|\||[<>!()])|([a-zA-Z_][a-zA-Z0-9_.]*(?:\[\s*(?:'[^']*'|"[^"]*")\s*\])?))/y;

type Tok =
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'op'; readonly v: string }
  | { readonly t: 'id'; readonly v: string };

function tokenize(src: string): Tok[] | null {
  const out: Tok[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    if (/^\s*$/.test(src.slice(TOKEN.lastIndex))) break;
    const m = TOKEN.exec(src);
    if (m === null) return null;
    if (m[1] !== undefined) out.push({ t: 'num', v: Number(m[1]) });
    else if (m[2] !== undefined || m[3] !== undefined)
      out.push({ t: 'str', v: (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1') });
    else if (m[4] !== undefined) out.push({ t: 'op', v: m[4] });
    else out.push({ t: 'id', v: m[5] ?? '' });
  }
  return out;
}

/** CEL's "no such key": reading a header the request lacks is an error, not null. */
const NO_SUCH_KEY = new Error('no such key');

function header(h: AccessLogEntry['requestHeaders'], name: string): string {
  const v = h[name];
  if (v === undefined) throw NO_SUCH_KEY;
  return typeof v === 'string' ? v : v.join(',');
}

/** The Envoy attributes a filter may read (envoy docs `intro/arch_overview/advanced/attributes`). */
function attribute(id: string): Node | null {
  const hdr = /^(request|response)\.headers\[\s*['"]([^'"]*)['"]\s*\]$/.exec(id);
  if (hdr !== null) {
    const name = (hdr[2] ?? '').toLowerCase();
    return hdr[1] === 'request'
      ? (e) => header(e.requestHeaders, name)
      : (e) => header(e.responseHeaders, name);
  }
  switch (id) {
    case 'response.code':
      return (e) => e.responseCode;
    case 'response.code_details':
      return (e) => e.responseCodeDetails;
    case 'response.flags':
      return (e) => e.responseFlags.length;
    case 'request.method':
      return (e) => e.method;
    case 'request.url_path':
      return (e) => e.path.split('?')[0] ?? '';
    case 'request.path':
      return (e) => e.path;
    case 'request.host':
      return (e) => e.authority;
    case 'request.duration':
      return (e) => e.durationMs;
    case 'upstream.address':
      return (e) => {
        if (e.upstreamHost === null) throw NO_SUCH_KEY;
        return e.upstreamHost;
      };
    case 'true':
      return () => true;
    case 'false':
      return () => false;
    default:
      return null;
  }
}

/**
 * Compile a CEL filter expression over Envoy attributes. meshlet evaluates the subset
 * filters are written in: comparisons (`== != < <= > >=`) of `response.code`,
 * `response.code_details`, `request.method`, `request.url_path`, `request.host`,
 * `request.headers['x']`, `response.headers['x']` and literals, combined with
 * `&&`, `||`, `!` and parentheses. Returns null for anything else (the caller reports
 * it and logs every request, rather than silently dropping lines).
 */
export function compileFilter(expression: string): EntryFilter | null {
  const toks = tokenize(expression);
  if (toks === null) return null;
  let i = 0;
  const peek = () => toks[i];
  const isOp = (v: string) => {
    const t = peek();
    return t !== undefined && t.t === 'op' && t.v === v;
  };
  const fail = (): never => {
    throw new SyntaxError('unsupported');
  };
  const primary = (): Node => {
    const t = toks[i++];
    if (t === undefined) return fail();
    if (t.t === 'num' || t.t === 'str') {
      const v = t.v;
      return () => v;
    }
    if (t.t === 'id') return attribute(t.v) ?? fail();
    if (t.v === '(') {
      const inner = or();
      if (!isOp(')')) fail();
      i++;
      return inner;
    }
    if (t.v === '!') {
      const inner = primary();
      return (e) => !truthy(inner(e));
    }
    return fail();
  };
  const comparison = (): Node => {
    const left = primary();
    const t = peek();
    if (t?.t !== 'op' || !['==', '!=', '<', '<=', '>', '>='].includes(t.v)) return left;
    i++;
    const right = primary();
    const op = t.v;
    return (e) => compare(op, left(e), right(e));
  };
  // A chain of one logical operator over `next`: `&&` short-circuits on false, `||` on true.
  const chain = (op: '&&' | '||', next: () => Node): Node => {
    const decisive = op === '||';
    let left = next();
    while (isOp(op)) {
      i++;
      left = logical(decisive, left, next());
    }
    return left;
  };
  const and = (): Node => chain('&&', comparison);
  const or = (): Node => chain('||', and);
  try {
    const root = or();
    if (i !== toks.length) return null;
    // An evaluation error drops the line, as Envoy's CEL access-log filter does
    // (access_loggers/filters/cel/cel.cc evaluate returns false).
    return (e) => {
      try {
        return truthy(root(e));
      } catch {
        return false;
      }
    };
  } catch {
    return null;
  }
}

/**
 * CEL's logical operators absorb an error when the other side decides: `error || true`
 * is true, `error && false` is false; otherwise the error stands. `decisive` is the
 * value that settles the operator (true for `||`, false for `&&`).
 */
function logical(decisive: boolean, l: Node, r: Node): Node {
  return (e) => {
    let a: boolean;
    try {
      a = truthy(l(e));
    } catch (err) {
      if (truthy(r(e)) === decisive) return decisive;
      throw err;
    }
    return a === decisive ? decisive : truthy(r(e));
  };
}

function truthy(v: Value): boolean {
  return v === true;
}

function compare(op: string, a: Value, b: Value): boolean {
  if (a === null || b === null) return op === '!=' ? a !== b : op === '==' ? a === b : false;
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}
