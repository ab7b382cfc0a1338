import type { CelValue } from './values.js';

/**
 * A parsed CEL expression (cel-spec `doc/langdef.md`). Operators are calls with the
 * spec's internal names (`_+_`, `_==_`, `!_`, `_[_]`, `_?_:_`, `@in`); `has(a.b)`
 * is a select with `test` set; the comprehension macros keep their macro name.
 */
export type Expr =
  | { readonly k: 'lit'; readonly v: CelValue; readonly at: number }
  | { readonly k: 'ident'; readonly name: string; readonly at: number }
  | {
      readonly k: 'select';
      readonly operand: Expr;
      readonly field: string;
      readonly test: boolean;
      readonly at: number;
    }
  | {
      readonly k: 'call';
      readonly fn: string;
      readonly target: Expr | null;
      readonly args: readonly Expr[];
      readonly at: number;
    }
  | { readonly k: 'list'; readonly items: readonly Expr[]; readonly at: number }
  | { readonly k: 'map'; readonly entries: readonly (readonly [Expr, Expr])[]; readonly at: number }
  | { readonly k: 'struct'; readonly name: string; readonly at: number }
  | {
      readonly k: 'comprehension';
      readonly macro: 'all' | 'exists' | 'exists_one' | 'map' | 'filter';
      readonly range: Expr;
      readonly variable: string;
      readonly args: readonly Expr[];
      readonly at: number;
    };
