import { compileCel } from '../cel/compile.js';
import { entryActivation } from '../cel/entry-activation.js';
import type { AccessLogEntry } from './entry.js';

/** A compiled Telemetry `accessLogging[].filter.expression`. */
export type EntryFilter = (entry: AccessLogEntry) => boolean;

/** A filter, or why meshlet cannot apply it (then every request is logged). */
export type CompiledEntryFilter =
  | { readonly filter: EntryFilter; readonly problem: null }
  | { readonly filter: null; readonly problem: string };

/**
 * Compile a filter as Envoy's CEL access-log filter does (envoy
 * source/extensions/access_loggers/filters/cel/): CEL over Envoy's attributes in Envoy's
 * shared builder (evaluator.cc createBuilder: no `string()`, no string or list `+`, no
 * comprehensions). A request is logged only when the result is the bool `true`; an
 * evaluation error or any other type drops the line (cel.cc `evaluate`).
 *
 * An expression that does not parse makes Envoy reject the config (config.cc throws "Not
 * able to parse filter expression"; istiod's webhook refuses it first), as does one its
 * planner cannot build (evaluator.cc createExpression throws). meshlet cannot refuse a
 * listener, so it reports those, and what it cannot evaluate, and logs every request.
 */
export function compileEntryFilter(expression: string): CompiledEntryFilter {
  const compiled = compileCel(expression, 'accessLog');
  if (!compiled.ok) {
    const { kind, message } = compiled.problem;
    const quoted = JSON.stringify(expression);
    const problem =
      kind === 'unsupported'
        ? `meshlet cannot evaluate the filter expression ${quoted} (${message}; Envoy evaluates it as CEL); every request is logged`
        : `Envoy rejects the access log configuration for the filter expression ${quoted} (${message}); every request is logged`;
    return { filter: null, problem };
  }
  const program = compiled.program;
  return { filter: (entry) => program.evaluate(entryActivation(entry)) === true, problem: null };
}

/** The filter, or null when meshlet cannot apply it (see {@link compileEntryFilter}). */
export function compileFilter(expression: string): EntryFilter | null {
  return compileEntryFilter(expression).filter;
}
