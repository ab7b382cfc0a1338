import { z } from 'zod';
import { percentValue, re2, stringMap, uint } from '../validate/fields.js';

/**
 * Schema pieces shared by the networking.istio.io kinds (istio/api
 * networking/v1alpha3). Field names are the JSON (camelCase) names the CRDs accept.
 */

/** Proto oneofs accept at most one member (CRD `oneOf` with the empty case allowed). */
export function atMostOne<T extends object>(keys: readonly (keyof T & string)[]) {
  return (value: T, ctx: z.core.$RefinementCtx<T>): void => {
    const set = keys.filter((k) => value[k] !== undefined);
    if (set.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: `only one of ${keys.join(', ')} can be set, got ${set.join(' and ')}`,
      });
    }
  };
}

export interface StringMatchOptions {
  /** `withoutHeaders` accepts `regex: "*"` as "header present" (istio validation virtualservice.go). */
  readonly allowStarRegex?: boolean;
}

/** istio.networking.v1alpha3.StringMatch: one of `exact`, `prefix`, `regex` (RE2). */
export function stringMatchSchema(opts: StringMatchOptions = {}) {
  const regex = opts.allowStarRegex === true ? z.union([z.literal('*'), re2()]) : re2();
  return z
    .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: regex.optional() })
    .superRefine(atMostOne(['exact', 'prefix', 'regex']));
}

/** StringMatch as used by `uri`, `scheme`, `method`, `authority`, header and query matches. */
export const stringMatch = stringMatchSchema();
export type StringMatch = z.infer<typeof stringMatch>;

/** istio.networking.v1alpha3.PortSelector `{ number }`. */
export const portSelector = z.strictObject({ number: uint().optional() });
export type PortSelector = z.infer<typeof portSelector>;

/** istio.networking.v1alpha3.Destination `{ host, subset, port }`. */
export const destination = z.strictObject({
  host: z.string(),
  subset: z.string().optional(),
  port: portSelector.optional(),
});
export type Destination = z.infer<typeof destination>;

/** istio.networking.v1alpha3.Percent `{ value }` with the fault-injection range (0 or [0.0001, 100]). */
export const percent = z.strictObject({ value: percentValue().optional() });
export type Percent = z.infer<typeof percent>;

/** Percent without the fault range, for `mirrorPercentage` (the webhook only bounds it to 0..100). */
export const plainPercent = z.strictObject({ value: z.number().optional() });

/** Headers.HeaderOperations `{ set, add, remove }`. */
export const headerOperations = z.strictObject({
  set: stringMap().optional(),
  add: stringMap().optional(),
  remove: z.array(z.string()).optional(),
});
export type HeaderOperations = z.infer<typeof headerOperations>;

/** istio.networking.v1alpha3.Headers `{ request, response }`. */
export const headers = z.strictObject({
  request: headerOperations.optional(),
  response: headerOperations.optional(),
});
export type Headers = z.infer<typeof headers>;

/** istio.networking.v1alpha3.WorkloadSelector `{ labels }` (ServiceEntry, Sidecar). */
export const labelSelector = z.strictObject({ labels: stringMap().optional() });
export type LabelSelector = z.infer<typeof labelSelector>;

/** An int32 field the webhook requires to be >= 0, with Istio's message. */
export function nonNegativeInt(what: string) {
  return z
    .number()
    .int()
    .refine((n) => n >= 0, { message: `${what} must be non-negative` });
}
