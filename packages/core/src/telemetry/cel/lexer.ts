import { CelUint } from './values.js';

/** A CEL syntax error (cel-spec `doc/langdef.md` "Syntax"); `at` is the character offset. */
export class CelSyntaxError extends Error {
  readonly code = 'CEL_SYNTAX';
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(`Syntax error: ${message} at ${at}`);
  }
}

export type Token =
  | { readonly t: 'int'; readonly v: bigint; readonly at: number }
  | { readonly t: 'uint'; readonly v: CelUint; readonly at: number }
  | { readonly t: 'double'; readonly v: number; readonly at: number }
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'bytes'; readonly v: Uint8Array; readonly at: number }
  | { readonly t: 'ident'; readonly v: string; readonly at: number }
  | { readonly t: 'op'; readonly v: string; readonly at: number }
  | { readonly t: 'eof'; readonly v: ''; readonly at: number };

const OPERATORS = [
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<',
  '>',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '?',
  ':',
  '.',
  ',',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
];

const IDENT = /[_a-zA-Z][_a-zA-Z0-9]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+[uU]?)|(?:\d*\.\d+(?:[eE][+-]?\d+)?)|(?:\d+[eE][+-]?\d+)|(?:\d+[uU]?)/y;
const SPACE = /(?:[ \t\n\r\f]+|\/\/[^\n]*)+/y;

/** Split CEL source into tokens; throws {@link CelSyntaxError}. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (true) {
    SPACE.lastIndex = i;
    if (SPACE.test(src)) i = SPACE.lastIndex;
    if (i >= src.length) break;
    const c = src[i] as string;
    const quoteAt = stringStart(src, i);
    if (quoteAt !== null) {
      const { value, end, bytes } = readString(src, i, quoteAt);
      out.push(
        bytes ? { t: 'bytes', v: value as Uint8Array, at: i } : { t: 'string', v: value as string, at: i },
      );
      i = end;
      continue;
    }
    if (/\d/.test(c) || (c === '.' && /\d/.test(src[i + 1] ?? ''))) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(src);
      if (m === null) throw new CelSyntaxError('malformed number', i);
      out.push(numberToken(m[0], i));
      i = NUMBER.lastIndex;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(src);
    if (id !== null) {
      out.push({ t: 'ident', v: id[0], at: i });
      i = IDENT.lastIndex;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op === undefined) throw new CelSyntaxError(`token recognition error at: '${c}'`, i);
    out.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ t: 'eof', v: '', at: src.length });
  return out;
}

function numberToken(text: string, at: number): Token {
  const unsigned = /[uU]$/.test(text);
  const digits = unsigned ? text.slice(0, -1) : text;
  if (/^0[xX]/.test(digits) || /^\d+$/.test(digits)) {
    const v = BigInt(digits);
    if (unsigned) {
      if (v > 2n ** 64n - 1n) throw new CelSyntaxError('uint literal out of range', at);
      return { t: 'uint', v: new CelUint(v), at };
    }
    // The range check of a negative literal happens in the parser (`-9223372036854775808`).
    if (v > 2n ** 63n) throw new CelSyntaxError('int literal out of range', at);
    return { t: 'int', v, at };
  }
  if (unsigned) throw new CelSyntaxError('malformed number', at);
  return { t: 'double', v: Number(digits), at };
}

/** The offset of the opening quote when a string or bytes literal starts at `i`. */
function stringStart(src: string, i: number): number | null {
  const m = /^(?:[rR][bB]?|[bB][rR]?)?['"]/.exec(src.slice(i, i + 3));
  return m === null ? null : i + m[0].length - 1;
}

function readString(
  src: string,
  start: number,
  q: number,
): { value: string | Uint8Array; end: number; bytes: boolean } {
  const prefix = src.slice(start, q).toLowerCase();
  const raw = prefix.includes('r');
  const bytes = prefix.includes('b');
  const quote = src[q] as string;
  const triple = src.startsWith(quote.repeat(3), q);
  const close = triple ? quote.repeat(3) : quote;
  let i = q + close.length;
  const parts: number[] = []; // code points (strings) or byte values (escapes in bytes)
  const byteParts: number[] = [];
  const push = (cp: number, isByte: boolean) => {
    if (bytes) {
      if (isByte) byteParts.push(cp);
      else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) byteParts.push(b);
    } else parts.push(cp);
  };
  while (true) {
    if (i >= src.length) throw new CelSyntaxError('unterminated string literal', start);
    if (src.startsWith(close, i)) {
      i += close.length;
      break;
    }
    const c = src.codePointAt(i) as number;
    if (!triple && (c === 0x0a || c === 0x0d)) throw new CelSyntaxError('newline in string literal', i);
    if (c !== 0x5c || raw) {
      push(c, false);
      i += c > 0xffff ? 2 : 1;
      continue;
    }
    const e = src[i + 1] ?? '';
    const simple: Readonly<Record<string, number>> = {
      a: 7,
      b: 8,
      f: 12,
      n: 10,
      r: 13,
      t: 9,
      v: 11,
      '\\': 92,
      '?': 63,
      '"': 34,
      "'": 39,
      '`': 96,
    };
    if (simple[e] !== undefined) {
      push(simple[e], false);
      i += 2;
      continue;
    }
    const hex = (len: number) => {
      const h = src.slice(i + 2, i + 2 + len);
      if (h.length !== len || !/^[0-9a-fA-F]+$/.test(h))
        throw new CelSyntaxError('invalid escape sequence', i);
      return parseInt(h, 16);
    };
    if (e === 'x' || e === 'X') {
      push(hex(2), true);
      i += 4;
    } else if (e === 'u' || e === 'U') {
      if (bytes) throw new CelSyntaxError('unicode escape in bytes literal', i);
      const len = e === 'u' ? 4 : 8;
      const cp = hex(len);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        throw new CelSyntaxError('invalid unicode code point', i);
      push(cp, false);
      i += 2 + len;
    } else if (/[0-3]/.test(e) && /^[0-7]{2}$/.test(src.slice(i + 2, i + 4))) {
      push(parseInt(src.slice(i + 1, i + 4), 8), true);
      i += 4;
    } else throw new CelSyntaxError('invalid escape sequence', i);
  }
  if (bytes) return { value: Uint8Array.from(byteParts), end: i, bytes };
  return { value: String.fromCodePoint(...parts), end: i, bytes };
}
