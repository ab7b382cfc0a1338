import { compileCel } from '../cel/compile.js';
import { eventActivation } from '../cel/event-activation.js';
import { printValue } from '../cel/print.js';
import { isError } from '../cel/values.js';
import type { MetricEvent } from './metric-event.js';

/** A compiled tag override value: reads what it needs from the event. */
export interface TagValue {
  /** True when the value is the same for every event (it reads no attribute). */
  readonly constant: boolean;
  readonly evaluate: (event: MetricEvent) => string;
  readonly describe: () => string;
}

/** Why a value does not run as written (reported when the config loads). */
export interface TagExpressionProblem {
  readonly expression: string;
  readonly message: string;
}

/**
 * A compiled tagOverrides value, with what istio_stats does with it:
 * - `value`: evaluated per request (with a problem when meshlet cannot read part of it: it then reads `unknown`);
 * - `drop`: it does not parse, so the tag is dropped: a new tag is not added, a standard one is removed;
 * - `ignore`: it parses but cel-cpp cannot plan it, so Envoy rejects the stats filter config;
 *   meshlet keeps running and ignores this override.
 */
export type CompiledTag =
  | { readonly kind: 'value'; readonly value: TagValue; readonly problem: TagExpressionProblem | null }
  | { readonly kind: 'drop' | 'ignore'; readonly problem: TagExpressionProblem };

/** What a failed evaluation reads (istio_stats.cc StreamOverrides::evaluate: `context_->unknown_`). */
const UNKNOWN = 'unknown';

const NO_ATTRIBUTES = { field: () => undefined };

/**
 * Compile a tagOverrides `value` as istio_stats does (contrib/istio/filters/http/istio_stats/
 * source/istio_stats.cc, formerly istio/proxy source/extensions/filters/http/istio_stats):
 * a CEL expression over Envoy's attributes, evaluated once per request; an evaluation error
 * reads `unknown`, any other result is printed as Envoy's `print` does.
 */
export function compileTagExpression(expression: string): CompiledTag {
  const compiled = compileCel(expression, 'metrics');
  if (!compiled.ok) {
    const { kind, message } = compiled.problem;
    const quoted = JSON.stringify(expression);
    if (kind === 'syntax') {
      return {
        kind: 'drop',
        problem: {
          expression,
          message: `the CEL expression ${quoted} does not parse (${message}); Envoy's stats filter drops this tag`,
        },
      };
    }
    if (kind === 'rejected') {
      return {
        kind: 'ignore',
        problem: {
          expression,
          message: `Envoy rejects the stats filter configuration for the CEL expression ${quoted} (${message}); meshlet ignores this tag override`,
        },
      };
    }
    return {
      kind: 'value',
      value: { constant: true, evaluate: () => UNKNOWN, describe: () => `unsupported(${expression})` },
      problem: {
        expression,
        message: `meshlet cannot evaluate the CEL expression ${quoted} (${message}); the tag reads "unknown"`,
      },
    };
  }
  const program = compiled.program;
  const text = (v: ReturnType<typeof program.evaluate>) => (isError(v) ? UNKNOWN : printValue(v));
  if (program.reads.size === 0) {
    const v = text(program.evaluate(NO_ATTRIBUTES));
    return {
      kind: 'value',
      value: { constant: true, evaluate: () => v, describe: () => expression },
      problem: null,
    };
  }
  return {
    kind: 'value',
    value: {
      constant: false,
      evaluate: (event) => text(program.evaluate(eventActivation(event))),
      describe: () => expression,
    },
    problem: null,
  };
}
