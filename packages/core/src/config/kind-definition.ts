import type { z } from 'zod';
import type { ValidationContext } from './validate/context.js';

/** How much of a kind meshlet acts on. Anything less than 'full' is reported at load. */
export type KindSupport = 'full' | 'unsupported';

/** Everything the loader needs to know about one Istio kind. */
export interface KindDefinition<S = unknown> {
  readonly kind: string;
  /** API group, e.g. `networking.istio.io`. */
  readonly group: string;
  /** Accepted versions, e.g. ['v1alpha3', 'v1beta1', 'v1']. */
  readonly versions: readonly string[];
  /** Shape of `spec`: strict objects (unknown fields are errors) plus field-local rules. */
  readonly spec: z.ZodType<S>;
  /** Whether a document with no `spec` is an error (`spec: Required value`). */
  readonly specRequired: boolean;
  /** Cross-field webhook rules; runs only when `spec` has the right shape. */
  readonly validate?: (spec: S, ctx: ValidationContext) => void;
  /** Kinds the runtime does not act on are still validated, then reported. */
  readonly support: KindSupport;
}

export function defineKind<S>(def: KindDefinition<S>): KindDefinition<S> {
  return Object.freeze(def);
}
