import { z } from 'zod';
import { checkDuration, type DurationRule } from './duration.js';
import { checkRe2 } from './regex.js';

/**
 * Field types shared by every kind's schema. Field-local webhook rules live here
 * as refinements so each problem is reported at its own path.
 */

/** A Go-syntax duration, >= 1 ms, whole ms (spec/traffic.md §6). */
export function duration(rule: DurationRule = {}) {
  return z
    .string({
      error: (issue) => `${JSON.stringify(issue.input)} is not a duration (write it as a string, e.g. "3s")`,
    })
    .superRefine((value, ctx) => {
      const problem = checkDuration(value, rule);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** An RE2 regex: non-empty, <= 1024 chars, compiles (re2js). */
export function re2() {
  return z.string().superRefine((value, ctx) => {
    const problem = checkRe2(value);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** A port number 1-65535, with Istio's message. */
export function port() {
  return z
    .number()
    .int()
    .refine((n) => n >= 1 && n <= 65535, { message: 'port must be between 1-65535' });
}

/** istio.networking.v1alpha3.Percent `{ value }`: 0, or within [0.0001, 100]. */
export function percentValue() {
  return z.number().refine((v) => v === 0 || (v >= 0.0001 && v <= 100), {
    message: 'percentage must be 0 or in range [0.0001, 100]',
  });
}

/** `map<string,string>` (labels, selectors, headers). */
export function stringMap() {
  return z.record(z.string(), z.string());
}

/** Kubernetes `{ matchLabels }` style workload selector used by Istio's security/telemetry kinds. */
export function workloadSelector() {
  return z.strictObject({ matchLabels: stringMap().optional() });
}

/** `google.protobuf.UInt32Value`/`Int32Value` style numbers: integers, never negative. */
export function uint() {
  return z.number().int().min(0);
}
