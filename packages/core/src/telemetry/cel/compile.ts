import type { Expr } from './ast.js';
import {
  ATTRIBUTES,
  AttributeMap,
  CLOSED_ROOTS,
  OPAQUE_ROOTS,
  PEER_FIELDS,
  type Activation,
  type CelUse,
} from './attributes.js';
import { FILLED_METADATA } from '../filled-metadata.js';
import { ENVOY_RUNTIME, ISTIO_STATS_RUNTIME, lookupFunction, type CelRuntime } from './functions.js';
import { CelSyntaxError } from './lexer.js';
import {
  add,
  compare,
  divide,
  equals,
  inOperator,
  modulo,
  multiply,
  negate,
  subtract,
  type ArithmeticOptions,
} from './operators.js';
import { parseCel } from './parser.js';
import {
  CelError,
  CelMap,
  CelUint,
  LiteralMap,
  isError,
  noOverload,
  noSuchKey,
  type CelValue,
} from './values.js';

/**
 * Why meshlet cannot run an expression as upstream does:
 * - `syntax`: cel-cpp's `Parse` fails;
 * - `rejected`: it parses but Envoy's planner refuses it (unknown function, comprehension
 *   where Envoy disables them), so Envoy rejects the configuration that carries it;
 * - `unsupported`: valid upstream, but it needs something meshlet does not evaluate.
 */
export interface CelProblem {
  readonly kind: 'syntax' | 'rejected' | 'unsupported';
  readonly message: string;
}

export interface CelProgram {
  readonly source: string;
  /** The attributes it reads, `root.field` (`root.*` for a whole root); empty for a constant. */
  readonly reads: ReadonlySet<string>;
  /** Evaluate against one request; an error comes back as a {@link CelError} value. */
  evaluate(activation: Activation): CelValue;
}

export type CelCompileResult =
  { readonly ok: true; readonly program: CelProgram } | { readonly ok: false; readonly problem: CelProblem };

interface Env {
  readonly act: Activation;
  readonly locals: Readonly<Record<string, CelValue>> | null;
}

type Node = (env: Env) => CelValue;

class Problem extends Error {
  constructor(readonly problem: CelProblem) {
    super(problem.message);
  }
}

const USE_NAMES: Readonly<Record<CelUse, string>> = {
  accessLog: 'an access-log filter',
  metrics: 'a tagOverrides value',
};

/** Compile CEL source for one use: the access-log filter (Envoy's runtime) or tagOverrides (istio_stats'). */
export function compileCel(source: string, use: CelUse): CelCompileResult {
  let ast: Expr;
  try {
    ast = parseCel(source);
  } catch (err) {
    if (err instanceof CelSyntaxError)
      return { ok: false, problem: { kind: 'syntax', message: err.message } };
    throw err;
  }
  const c = new Compiler(use);
  try {
    const root = c.node(ast, new Set());
    const program: CelProgram = {
      source,
      reads: c.reads,
      evaluate: (act) => {
        try {
          return root({ act, locals: null });
        } catch (err) {
          return new CelError(err instanceof Error ? err.message : String(err));
        }
      },
    };
    return { ok: true, program };
  } catch (err) {
    if (err instanceof Problem) return { ok: false, problem: err.problem };
    throw err;
  }
}

class Compiler {
  readonly reads = new Set<string>();
  private readonly runtime: CelRuntime;
  private readonly arith: ArithmeticOptions;

  constructor(private readonly use: CelUse) {
    this.runtime = use === 'accessLog' ? ENVOY_RUNTIME : ISTIO_STATS_RUNTIME;
    this.arith = { stringConcat: this.runtime.stringConcat, listConcat: this.runtime.listConcat };
  }

  private fail(kind: CelProblem['kind'], message: string): never {
    throw new Problem({ kind, message });
  }

  node(e: Expr, scope: ReadonlySet<string>): Node {
    switch (e.k) {
      case 'lit': {
        const v = e.v;
        return () => v;
      }
      case 'ident':
        return this.ident(e.name, scope);
      case 'select':
        return this.select(e, scope);
      case 'list': {
        const items = e.items.map((i) => this.node(i, scope));
        return (env) => {
          const out: CelValue[] = [];
          for (const i of items) {
            const v = i(env);
            if (isError(v)) return v;
            out.push(v);
          }
          return out;
        };
      }
      case 'map': {
        const entries = e.entries.map(([k, v]) => [this.node(k, scope), this.node(v, scope)] as const);
        return (env) => {
          const m = new LiteralMap();
          for (const [k, v] of entries) {
            const key = k(env);
            if (isError(key)) return key;
            const value = v(env);
            if (isError(value)) return value;
            if (!m.set(key, value)) return new CelError('invalid or repeated map key');
          }
          return m;
        };
      }
      case 'struct':
        return this.fail('rejected', `no message type ${e.name} is known to Envoy's CEL runtime`);
      case 'comprehension':
        return this.comprehension(e, scope);
      case 'call':
        return this.call(e, scope);
    }
  }

  private attribute(root: string, field: string): void {
    const fields = ATTRIBUTES[root] as Readonly<Record<string, readonly CelUse[]>>;
    const known = Object.hasOwn(fields, field) ? fields[field] : undefined;
    const closed = CLOSED_ROOTS.has(root) && known === undefined;
    if (OPAQUE_ROOTS.has(root) || closed || (known !== undefined && !known.includes(this.use))) {
      this.fail(
        'unsupported',
        `meshlet cannot read the attribute ${root}${OPAQUE_ROOTS.has(root) ? '' : `.${field}`} in ${USE_NAMES[this.use]}`,
      );
    }
    this.reads.add(`${root}.${field}`);
  }

  /** `filter_state.upstream_peer` / `filter_state['downstream_peer']`. */
  private isPeerObject(e: Expr, scope: ReadonlySet<string>): boolean {
    const peer = (f: unknown) => f === 'upstream_peer' || f === 'downstream_peer';
    const isFilterState = (o: Expr) =>
      o.k === 'ident' && o.name === 'filter_state' && this.isRoot(o.name, scope);
    if (e.k === 'select') return !e.test && isFilterState(e.operand) && peer(e.field);
    if (e.k !== 'call' || e.fn !== '_[_]') return false;
    const [o, k] = e.args as [Expr, Expr];
    return isFilterState(o) && k.k === 'lit' && peer(k.v);
  }

  /** `metadata.filter_metadata` / `metadata['filter_metadata']`. */
  private isFilterMetadata(e: Expr, scope: ReadonlySet<string>): boolean {
    const isMetadata = (o: Expr) => o.k === 'ident' && o.name === 'metadata' && this.isRoot(o.name, scope);
    if (e.k === 'select') return !e.test && isMetadata(e.operand) && e.field === 'filter_metadata';
    if (e.k !== 'call' || e.fn !== '_[_]') return false;
    const [o, k] = e.args as [Expr, Expr];
    return isMetadata(o) && k.k === 'lit' && k.v === 'filter_metadata';
  }

  /** A dynamic metadata namespace read: reported unless meshlet fills it. */
  private metadataNamespace(ns: unknown): void {
    if (typeof ns === 'string' && FILLED_METADATA.has(ns)) return;
    this.fail(
      'unsupported',
      `meshlet cannot read the dynamic metadata ${typeof ns === 'string' ? ns : '(a computed namespace)'}; it fills ${[...FILLED_METADATA].join(', ')}`,
    );
  }

  private isRoot(name: string, scope: ReadonlySet<string>): boolean {
    return !scope.has(name) && Object.hasOwn(ATTRIBUTES, name);
  }

  private ident(name: string, scope: ReadonlySet<string>): Node {
    if (scope.has(name)) return (env) => env.locals?.[name] ?? null;
    if (Object.hasOwn(ATTRIBUTES, name)) {
      if (OPAQUE_ROOTS.has(name)) this.attribute(name, '*');
      if (name === 'metadata')
        this.fail(
          'unsupported',
          "meshlet reads dynamic metadata only as metadata.filter_metadata['<namespace>']",
        );
      this.reads.add(`${name}.*`);
      return (env) => new AttributeMap(name, env.act);
    }
    // cel-cpp: `No value with name "x" found in Activation`, an evaluation error.
    const err = new CelError(`undeclared reference to '${name}'`);
    return () => err;
  }

  private select(e: Extract<Expr, { k: 'select' }>, scope: ReadonlySet<string>): Node {
    const { operand, field, test } = e;
    if (operand.k === 'ident' && this.isRoot(operand.name, scope)) {
      const root = operand.name;
      this.attribute(root, field);
      if (test) return (env) => env.act.field(root, field) !== undefined;
      return (env) => env.act.field(root, field) ?? noSuchKey(field);
    }
    if (this.isFilterMetadata(operand, scope)) this.metadataNamespace(field);
    if (this.isPeerObject(operand, scope) && PEER_FIELDS[field] === false)
      this.fail('unsupported', `meshlet does not know the peer metadata field ${field}`);
    const target = this.node(operand, scope);
    return (env) => {
      const m = target(env);
      if (isError(m)) return m;
      if (!(m instanceof CelMap)) return new CelError(`invalid type for field selection: ${field}`);
      const v = m.get(field);
      return test ? v !== undefined : (v ?? noSuchKey(field));
    };
  }

  private comprehension(e: Extract<Expr, { k: 'comprehension' }>, scope: ReadonlySet<string>): Node {
    if (!this.runtime.comprehensions) {
      // evaluator.cc createBuilder: `options.enable_comprehension = false`.
      this.fail(
        'rejected',
        `Envoy's CEL runtime for access-log filters has comprehensions (${e.macro}) disabled`,
      );
    }
    const range = this.node(e.range, scope);
    const inner = new Set(scope).add(e.variable);
    const args = e.args.map((a) => this.node(a, inner));
    const variable = e.variable;
    const macro = e.macro;
    return (env) => {
      const r = range(env);
      if (isError(r)) return r;
      const items = Array.isArray(r) ? (r as readonly CelValue[]) : r instanceof CelMap ? r.keys() : null;
      if (items === null) return noOverload(macro, r);
      const at = (node: Node, v: CelValue) =>
        node({ act: env.act, locals: { ...env.locals, [variable]: v } });
      return runComprehension(macro, items, args, at);
    };
  }

  private call(e: Extract<Expr, { k: 'call' }>, scope: ReadonlySet<string>): Node {
    const n = (i: number) => this.node(e.args[i] as Expr, scope);
    switch (e.fn) {
      case '_&&_':
        return logical(false, n(0), n(1));
      case '_||_':
        return logical(true, n(0), n(1));
      case '_?_:_': {
        const [c, y, no] = [n(0), n(1), n(2)];
        return (env) => {
          const v = c(env);
          if (isError(v)) return v;
          if (typeof v !== 'boolean') return noOverload('_?_:_', v);
          return v ? y(env) : no(env);
        };
      }
      case '_[_]':
        return this.index(e, scope);
      default:
        break;
    }
    const binary = this.operator(e.fn);
    if (binary !== null) {
      const [a, b] = [n(0), n(1)];
      return (env) => {
        const x = a(env);
        if (isError(x)) return x;
        const y = b(env);
        if (isError(y)) return y;
        return binary(x, y);
      };
    }
    if (e.fn === '!_' || e.fn === '-_') {
      const a = n(0);
      const not = e.fn === '!_';
      return (env) => {
        const x = a(env);
        if (isError(x)) return x;
        if (not) return typeof x === 'boolean' ? !x : noOverload('!_', x);
        return negate(x);
      };
    }
    return this.function(e, scope);
  }

  private operator(fn: string): ((a: CelValue, b: CelValue) => CelValue) | null {
    switch (fn) {
      case '_==_':
        return (a, b) => equals(a, b);
      case '_!=_':
        return (a, b) => !equals(a, b);
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_':
        return (a, b) => {
          const c = compare(fn, a, b);
          if (isError(c)) return c;
          if (Number.isNaN(c)) return false;
          return fn === '_<_' ? c < 0 : fn === '_<=_' ? c <= 0 : fn === '_>_' ? c > 0 : c >= 0;
        };
      case '@in':
        return inOperator;
      case '_+_':
        return (a, b) => add(a, b, this.arith);
      case '_-_':
        return subtract;
      case '_*_':
        return multiply;
      case '_/_':
        return divide;
      case '_%_':
        return modulo;
      default:
        return null;
    }
  }

  private index(e: Extract<Expr, { k: 'call' }>, scope: ReadonlySet<string>): Node {
    const [operand, key] = e.args as [Expr, Expr];
    // `request['method']` reads the same attribute as `request.method`.
    if (
      operand.k === 'ident' &&
      this.isRoot(operand.name, scope) &&
      key.k === 'lit' &&
      typeof key.v === 'string'
    )
      return this.select({ k: 'select', operand, field: key.v, test: false, at: e.at }, scope);
    if (this.isFilterMetadata(operand, scope)) this.metadataNamespace(key.k === 'lit' ? key.v : undefined);
    const target = this.node(operand, scope);
    const index = this.node(key, scope);
    return (env) => {
      const t = target(env);
      if (isError(t)) return t;
      const k = index(env);
      if (isError(k)) return k;
      if (t instanceof CelMap) return t.get(k) ?? noSuchKey(k);
      if (Array.isArray(t)) {
        const list = t as readonly CelValue[];
        const i = typeof k === 'bigint' ? k : k instanceof CelUint ? k.value : null;
        if (i === null) return noOverload('_[_]', t, k);
        if (i < 0n || i >= BigInt(list.length)) return new CelError(`index out of bounds: ${i}`);
        return list[Number(i)] as CelValue;
      }
      return noOverload('_[_]', t, k);
    };
  }

  private function(e: Extract<Expr, { k: 'call' }>, scope: ReadonlySet<string>): Node {
    const receiver = e.target !== null;
    const arity = e.args.length + (receiver ? 1 : 0);
    const found = lookupFunction(e.fn, receiver, arity, this.runtime);
    if (!found.ok) {
      const shape = `${receiver ? 'receiver ' : ''}function ${e.fn} with ${arity} argument${arity === 1 ? '' : 's'}`;
      if (found.reason === 'not-implemented')
        this.fail('unsupported', `meshlet does not evaluate the CEL ${shape}`);
      this.fail(
        'rejected',
        `no overload of the ${shape} in ${this.use === 'accessLog' ? "Envoy's" : "istio_stats'"} CEL runtime`,
      );
    }
    const impl = found.impl;
    const args = [...(e.target === null ? [] : [e.target]), ...e.args].map((a) => this.node(a, scope));
    return (env) => {
      const values: CelValue[] = [];
      for (const a of args) {
        const v = a(env);
        if (isError(v)) return v;
        values.push(v);
      }
      return impl(values);
    };
  }
}

/**
 * CEL's commutative `&&` / `||`: whichever side decides (false for `&&`, true for `||`)
 * wins even when the other is an error or not a bool; otherwise an error stands.
 */
function logical(decisive: boolean, left: Node, right: Node): Node {
  return (env) => {
    const a = left(env);
    if (a === decisive) return decisive;
    const b = right(env);
    if (b === decisive) return decisive;
    if (typeof a !== 'boolean') return isError(a) ? a : noOverload(decisive ? '_||_' : '_&&_', a);
    if (typeof b !== 'boolean') return isError(b) ? b : noOverload(decisive ? '_||_' : '_&&_', b);
    return !decisive;
  };
}

function runComprehension(
  macro: Extract<Expr, { k: 'comprehension' }>['macro'],
  items: readonly CelValue[],
  args: readonly Node[],
  at: (node: Node, v: CelValue) => CelValue,
): CelValue {
  const [first, second] = args as [Node, Node | undefined];
  if (macro === 'all' || macro === 'exists') {
    const decisive = macro === 'exists';
    let error: CelValue | null = null;
    for (const item of items) {
      const v = at(first, item);
      if (v === decisive) return decisive;
      if (typeof v !== 'boolean') error ??= isError(v) ? v : noOverload(macro, v);
    }
    return error ?? !decisive;
  }
  if (macro === 'exists_one') {
    let count = 0;
    for (const item of items) {
      const v = at(first, item);
      if (isError(v)) return v;
      if (typeof v !== 'boolean') return noOverload(macro, v);
      if (v) count++;
    }
    return count === 1;
  }
  const out: CelValue[] = [];
  for (const item of items) {
    if (macro === 'filter' || second !== undefined) {
      const keep = at(first, item);
      if (isError(keep)) return keep;
      if (typeof keep !== 'boolean') return noOverload(macro, keep);
      if (!keep) continue;
      if (macro === 'filter') {
        out.push(item);
        continue;
      }
    }
    const v = at(second ?? first, item);
    if (isError(v)) return v;
    out.push(v);
  }
  return out;
}
