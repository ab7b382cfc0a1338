import { CelSyntaxError } from '../../telemetry/cel/lexer.js';
import { parseCel } from '../../telemetry/cel/parser.js';
import { z } from 'zod';
import type { ValidationContext } from '../validate/context.js';
import {
  celDuration,
  labelSelector,
  nonEmpty,
  oneTargetingRule,
  policyTargetReference,
  policyTargetReferences,
  validateTargeting,
} from './security-common.js';

/** Shapes of `telemetry.istio.io` Telemetry (istio/api telemetry/v1alpha1/telemetry.proto). */

/** `ProviderRef` `{ name }`: a meshConfig `extensionProviders` name. */
export const providerRef = z.strictObject({ name: nonEmpty() });
export type ProviderRef = z.infer<typeof providerRef>;

/** `WorkloadMode` as Telemetry spells it. */
export const workloadMode = z.enum(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']);

const modeSelector = z.strictObject({ mode: workloadMode.optional() });
/** `google.protobuf.BoolValue`: a boolean, or null for unset. */
const optionalBool = () => z.boolean().nullable().optional();

/** `Tracing.CustomTag`: exactly one of literal, environment, header, formatter. */
export const customTag = z
  .strictObject({
    literal: z.strictObject({ value: nonEmpty() }).optional(),
    environment: z.strictObject({ name: nonEmpty(), defaultValue: z.string().optional() }).optional(),
    header: z.strictObject({ name: nonEmpty(), defaultValue: z.string().optional() }).optional(),
    formatter: z.strictObject({ value: nonEmpty() }).optional(),
  })
  .superRefine((tag, ctx) => {
    const set = [tag.literal, tag.environment, tag.header, tag.formatter].filter(
      (v) => v !== undefined,
    ).length;
    if (set > 1)
      ctx.addIssue({
        code: 'custom',
        message: 'only one of literal, environment, header or formatter may be set',
      });
  });
export type CustomTag = z.infer<typeof customTag>;

/** `Tracing`. */
export const tracing = z.strictObject({
  match: modeSelector.optional(),
  providers: z.array(providerRef).optional(),
  randomSamplingPercentage: z
    .number()
    .refine((p) => p >= 0 && p <= 100, { message: 'randomSamplingPercentage must be in range [0.0, 100.0]' })
    .nullable()
    .optional(),
  disableSpanReporting: optionalBool(),
  customTags: z.record(z.string(), customTag).optional(),
  useRequestIdForTraceSampling: optionalBool(),
  enableIstioTags: optionalBool(),
  disableContextPropagation: optionalBool(),
});
export type Tracing = z.infer<typeof tracing>;

/** `MetricSelector.IstioMetric`. */
export const istioMetric = z.enum([
  'ALL_METRICS',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
]);

/** `MetricSelector`: one of `metric` / `customMetric`, plus `mode`. */
export const metricSelector = z
  .strictObject({
    metric: istioMetric.optional(),
    customMetric: nonEmpty().optional(),
    mode: workloadMode.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.metric !== undefined && m.customMetric !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'only one of metric or customMetric may be set' });
    }
  });

/**
 * `MetricsOverrides.TagOverride`. The CRD rules check an explicit UPSERT has a
 * value and REMOVE has none; the webhook also treats an unset operation as UPSERT
 * (its enum zero value), so a bare `{}` is rejected too.
 */
export const tagOverride = z
  .strictObject({ operation: z.enum(['UPSERT', 'REMOVE']).optional(), value: z.string().optional() })
  .superRefine((t, ctx) => {
    if ((t.operation ?? 'UPSERT') === 'UPSERT' && (t.value ?? '') === '') {
      ctx.addIssue({ code: 'custom', message: 'value must be set when operation is UPSERT' });
    }
    if (t.operation === 'REMOVE' && t.value !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'value must not be set when operation is REMOVE',
      });
    }
  });
export type TagOverride = z.infer<typeof tagOverride>;

/** `MetricsOverrides`. */
export const metricsOverrides = z.strictObject({
  match: metricSelector.optional(),
  disabled: optionalBool(),
  tagOverrides: z.record(z.string(), tagOverride).optional(),
});
export type MetricsOverrides = z.infer<typeof metricsOverrides>;

/** `Metrics`. */
export const metrics = z.strictObject({
  providers: z.array(providerRef).optional(),
  overrides: z.array(metricsOverrides).optional(),
  reportingInterval: celDuration().optional(),
});
export type Metrics = z.infer<typeof metrics>;

/** `AccessLogging`. `filter.expression` is a CEL expression over Envoy attributes. */
export const accessLogging = z.strictObject({
  match: modeSelector.optional(),
  providers: z.array(providerRef).optional(),
  disabled: optionalBool(),
  filter: z.strictObject({ expression: z.string().optional() }).optional(),
});
export type AccessLogging = z.infer<typeof accessLogging>;

/** `spec` of `telemetry.istio.io` Telemetry. */
export const telemetrySpec = z
  .strictObject({
    selector: labelSelector().optional(),
    targetRef: policyTargetReference().optional(),
    targetRefs: policyTargetReferences().optional(),
    tracing: z.array(tracing).optional(),
    metrics: z.array(metrics).optional(),
    accessLogging: z.array(accessLogging).optional(),
  })
  .superRefine(oneTargetingRule());
export type TelemetrySpec = z.infer<typeof telemetrySpec>;

/** Webhook rules of istio validation.go `ValidateTelemetry` beyond the CRD schema. */
export function validateTelemetry(spec: TelemetrySpec, ctx: ValidationContext): void {
  validateTargeting(spec, ctx);
  if ((spec.tracing?.length ?? 0) > 1)
    ctx.warn(['spec', 'tracing'], 'multiple tracing is not currently supported');
  spec.tracing?.forEach((t, i) => {
    if ((t.providers?.length ?? 0) > 1) {
      ctx.warn(['spec', 'tracing', i, 'providers'], 'multiple providers is not currently supported');
    }
    for (const name of Object.keys(t.customTags ?? {})) {
      if (name === '') ctx.error(['spec', 'tracing', i, 'customTags', name], 'tag name may not be empty');
    }
  });
  spec.metrics?.forEach((m, i) =>
    m.overrides?.forEach((o, j) => {
      for (const name of Object.keys(o.tagOverrides ?? {})) {
        if (name === '')
          ctx.warn(
            ['spec', 'metrics', i, 'overrides', j, 'tagOverrides', name],
            'tagOverrides.name may not be empty',
          );
      }
    }),
  );
  spec.accessLogging?.forEach((l, i) => {
    const expression = l.filter?.expression;
    if (expression === undefined) return;
    const problem = celSyntaxProblem(expression);
    if (problem !== null) {
      ctx.error(
        ['spec', 'accessLogging', i, 'filter', 'expression'],
        `must be a valid CEL expression, ${problem}`,
      );
    }
  });
}

/**
 * istiod's webhook parses the expression with cel-go (pkg/config/validation/validation_istiod.go
 * validateTelemetryFilter): parsing only, so a function or attribute Envoy lacks passes here.
 */
function celSyntaxProblem(expression: string): string | null {
  try {
    parseCel(expression);
    return null;
  } catch (err) {
    if (err instanceof CelSyntaxError) return err.message;
    throw err;
  }
}
