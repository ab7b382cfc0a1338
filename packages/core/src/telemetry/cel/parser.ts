import type { Expr } from './ast.js';
import { CelSyntaxError, tokenize, type Token } from './lexer.js';

/** Identifiers CEL reserves (cel-spec langdef "Syntax"): using one is a parse error. */
const RESERVED = new Set([
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

const RELATIONS: Readonly<Record<string, string>> = {
  '==': '_==_',
  '!=': '_!=_',
  '<': '_<_',
  '<=': '_<=_',
  '>': '_>_',
  '>=': '_>=_',
};

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** cel-cpp's parser bounds nesting; so does meshlet, to keep recursion safe. */
const MAX_DEPTH = 250;

/** Parse CEL source to an AST; throws {@link CelSyntaxError} as cel-cpp's `Parse` fails. */
export function parseCel(src: string): Expr {
  return new Parser(tokenize(src)).parse();
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly toks: readonly Token[]) {}

  parse(): Expr {
    const e = this.expr();
    const t = this.peek();
    if (t.t !== 'eof') throw new CelSyntaxError(`extraneous input '${describe(t)}'`, t.at);
    return e;
  }

  private peek(): Token {
    return this.toks[this.i] as Token;
  }

  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }

  private expect(v: string): void {
    if (!this.isOp(v)) {
      const t = this.peek();
      throw new CelSyntaxError(`expected '${v}'${t.t === 'eof' ? ' before end of input' : ''}`, t.at);
    }
    this.i++;
  }

  private nest<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH)
      throw new CelSyntaxError('expression recursion limit exceeded', this.peek().at);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private expr(): Expr {
    return this.nest(() => {
      const cond = this.or();
      if (!this.isOp('?')) return cond;
      const at = this.peek().at;
      this.i++;
      const yes = this.or();
      this.expect(':');
      const no = this.expr();
      return { k: 'call', fn: '_?_:_', target: null, args: [cond, yes, no], at };
    });
  }

  private or(): Expr {
    let left = this.and();
    while (this.isOp('||')) {
      const at = this.peek().at;
      this.i++;
      left = { k: 'call', fn: '_||_', target: null, args: [left, this.and()], at };
    }
    return left;
  }

  private and(): Expr {
    let left = this.relation();
    while (this.isOp('&&')) {
      const at = this.peek().at;
      this.i++;
      left = { k: 'call', fn: '_&&_', target: null, args: [left, this.relation()], at };
    }
    return left;
  }

  private relation(): Expr {
    let left = this.addition();
    while (true) {
      const t = this.peek();
      const fn = t.t === 'op' ? RELATIONS[t.v] : t.t === 'ident' && t.v === 'in' ? '@in' : undefined;
      if (fn === undefined) return left;
      this.i++;
      left = { k: 'call', fn, target: null, args: [left, this.addition()], at: t.at };
    }
  }

  private addition(): Expr {
    let left = this.multiplication();
    while (this.isOp('+') || this.isOp('-')) {
      const t = this.toks[this.i++] as Token;
      left = {
        k: 'call',
        fn: `_${describe(t)}_`,
        target: null,
        args: [left, this.multiplication()],
        at: t.at,
      };
    }
    return left;
  }

  private multiplication(): Expr {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const t = this.toks[this.i++] as Token;
      left = { k: 'call', fn: `_${describe(t)}_`, target: null, args: [left, this.unary()], at: t.at };
    }
    return left;
  }

  private unary(): Expr {
    return this.nest(() => {
      const t = this.peek();
      if (this.isOp('!')) {
        this.i++;
        return { k: 'call', fn: '!_', target: null, args: [this.unary()], at: t.at };
      }
      if (this.isOp('-')) {
        this.i++;
        const next = this.peek();
        // `-9223372036854775808` is a literal, not the negation of an out-of-range one.
        if (next.t === 'int' || next.t === 'double') {
          this.i++;
          if (next.t === 'int') return this.member({ k: 'lit', v: -next.v, at: t.at });
          return this.member({ k: 'lit', v: -next.v, at: t.at });
        }
        return { k: 'call', fn: '-_', target: null, args: [this.unary()], at: t.at };
      }
      return this.member(this.primary());
    });
  }

  private member(start: Expr): Expr {
    let e = start;
    if (e.k === 'lit' && typeof e.v === 'bigint' && e.v === 2n ** 63n)
      throw new CelSyntaxError('int literal out of range', e.at);
    while (true) {
      const t = this.peek();
      if (this.isOp('.')) {
        this.i++;
        const name = this.identName(true);
        if (this.isOp('(')) {
          this.i++;
          const args = this.exprList(')');
          e = this.receiverCall(e, name, args, t.at);
        } else e = { k: 'select', operand: e, field: name, test: false, at: t.at };
      } else if (this.isOp('[')) {
        this.i++;
        const index = this.expr();
        this.expect(']');
        e = { k: 'call', fn: '_[_]', target: null, args: [e, index], at: t.at };
      } else if (this.isOp('{') && isQualifiedName(e)) {
        // `pkg.Message{field: value}`: valid syntax; no message type resolves in Envoy's
        // activation, so planning it fails (compile.ts).
        this.i++;
        this.fieldInits();
        e = { k: 'struct', name: qualifiedName(e), at: t.at };
      } else return e;
    }
  }

  private receiverCall(target: Expr, fn: string, args: Expr[], at: number): Expr {
    if (COMPREHENSIONS.has(fn)) {
      const want = fn === 'map' ? [2, 3] : [2];
      const v = args[0];
      if (!want.includes(args.length) || v?.k !== 'ident')
        throw new CelSyntaxError(`invalid argument to ${fn}() macro`, at);
      return {
        k: 'comprehension',
        macro: fn as 'all' | 'exists' | 'exists_one' | 'map' | 'filter',
        range: target,
        variable: v.name,
        args: args.slice(1),
        at,
      };
    }
    return { k: 'call', fn, target, args, at };
  }

  /**
   * An identifier. `in`, `true`, `false` and `null` are tokens of the grammar, never names;
   * the reserved words are refused only as plain identifiers and global function names,
   * not after a dot (cel-cpp parser.cc visitIdent / visitSelect): `peer.namespace` is valid.
   */
  private identName(selector = false): string {
    const t = this.peek();
    if (t.t !== 'ident' || ['in', 'true', 'false', 'null'].includes(t.v))
      throw new CelSyntaxError('expected an identifier', t.at);
    if (!selector && RESERVED.has(t.v)) throw new CelSyntaxError(`reserved identifier: ${t.v}`, t.at);
    this.i++;
    return t.v;
  }

  private exprList(close: string): Expr[] {
    const out: Expr[] = [];
    if (this.isOp(close)) {
      this.i++;
      return out;
    }
    while (true) {
      out.push(this.expr());
      if (this.isOp(',')) {
        this.i++;
        // A trailing comma is allowed in list and map literals, not in calls.
        if (close === ']' && this.isOp(close)) break;
        continue;
      }
      break;
    }
    this.expect(close);
    return out;
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.t) {
      case 'int':
      case 'uint':
      case 'double':
      case 'string':
      case 'bytes':
        this.i++;
        return { k: 'lit', v: t.v, at: t.at };
      case 'eof':
        throw new CelSyntaxError('mismatched input <EOF>', t.at);
      case 'ident':
        return this.identOrCall();
      default:
        break;
    }
    if (this.isOp('.')) {
      // `.name` resolves from the root scope; meshlet has no containers, so it is `name`.
      this.i++;
      return this.identOrCall();
    }
    if (this.isOp('(')) {
      this.i++;
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (this.isOp('[')) {
      this.i++;
      return { k: 'list', items: this.exprList(']'), at: t.at };
    }
    if (this.isOp('{')) {
      this.i++;
      return { k: 'map', entries: this.mapEntries(), at: t.at };
    }
    throw new CelSyntaxError(`mismatched input '${describe(t)}'`, t.at);
  }

  private identOrCall(): Expr {
    const t = this.peek();
    if (t.t === 'ident' && (t.v === 'true' || t.v === 'false' || t.v === 'null')) {
      this.i++;
      return { k: 'lit', v: t.v === 'null' ? null : t.v === 'true', at: t.at };
    }
    const name = this.identName();
    if (!this.isOp('(')) return { k: 'ident', name, at: t.at };
    this.i++;
    const args = this.exprList(')');
    if (name === 'has') {
      const arg = args[0];
      if (args.length !== 1 || arg?.k !== 'select')
        throw new CelSyntaxError('invalid argument to has() macro', t.at);
      return { ...arg, test: true };
    }
    return { k: 'call', fn: name, target: null, args, at: t.at };
  }

  private fieldInits(): void {
    while (!this.isOp('}')) {
      this.identName(true);
      this.expect(':');
      this.expr();
      if (!this.isOp(',')) break;
      this.i++;
    }
    this.expect('}');
  }

  private mapEntries(): (readonly [Expr, Expr])[] {
    const out: (readonly [Expr, Expr])[] = [];
    while (!this.isOp('}')) {
      const key = this.expr();
      this.expect(':');
      out.push([key, this.expr()]);
      if (!this.isOp(',')) break;
      this.i++;
    }
    this.expect('}');
    return out;
  }
}

function qualifiedName(e: Expr): string {
  return e.k === 'ident' ? e.name : e.k === 'select' ? `${qualifiedName(e.operand)}.${e.field}` : '';
}

function isQualifiedName(e: Expr): boolean {
  return e.k === 'ident' || (e.k === 'select' && !e.test && isQualifiedName(e.operand));
}

/** A token as source-like text for messages and operator names. */
function describe(t: Token): string {
  return t.t === 'op' || t.t === 'ident' ? t.v : t.t;
}
