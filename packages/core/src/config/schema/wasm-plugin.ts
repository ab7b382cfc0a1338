import { z } from 'zod';
import type { ValidationContext } from '../validate/context.js';
import {
  labelSelector,
  oneTargetingRule,
  patterned,
  policyTargetReference,
  policyTargetReferences,
  requestUriScheme,
  validateTargeting,
} from './security-common.js';

/**
 * `spec` of `extensions.istio.io` WasmPlugin (istio/api extensions/v1alpha1/wasm.proto).
 * meshlet does not run Wasm; the kind is validated so a config set stays admissible.
 */

const WASM_SCHEMES = new Set(['', 'http', 'https', 'oci', 'file']);

/** CRD rule: the URL (or `http://` + the URL) parses, with scheme http, https, oci or file. */
const wasmUrl = z
  .string()
  .min(1)
  .refine(
    (url) => {
      const scheme = requestUriScheme(url);
      if (scheme !== null) return WASM_SCHEMES.has(scheme);
      return requestUriScheme(`http://${url}`) !== null;
    },
    { message: 'url must have schema one of [http, https, file, oci]' },
  );

/** `EnvVar`. CRD rule: `value` only when `valueFrom` is INLINE (the default). */
export const envVar = z
  .strictObject({
    name: z.string().min(1).max(256),
    valueFrom: z.enum(['INLINE', 'HOST']).optional(),
    value: z.string().max(2048).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.valueFrom === 'HOST' && env.value !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'value may only be set when valueFrom is INLINE',
      });
    }
  });

/** `VmConfig` `{ env }`; env is a list-map keyed by name. */
export const vmConfig = z.strictObject({
  env: z
    .array(envVar)
    .max(256)
    .superRefine((env, ctx) => {
      const seen = new Set<string>();
      env.forEach((e, i) => {
        if (seen.has(e.name)) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `Duplicate value: {"name":${JSON.stringify(e.name)}}`,
          });
        }
        seen.add(e.name);
      });
    })
    .optional(),
});

/** `WasmPlugin.TrafficSelector`. */
export const trafficSelector = z.strictObject({
  mode: z.enum(['UNDEFINED', 'CLIENT', 'SERVER', 'CLIENT_AND_SERVER']).optional(),
  ports: z.array(z.strictObject({ number: z.number().int().min(1).max(65535) })).optional(),
});

export const wasmPluginSpec = z
  .strictObject({
    selector: labelSelector().optional(),
    targetRef: policyTargetReference().optional(),
    targetRefs: policyTargetReferences().optional(),
    url: wasmUrl,
    sha256: patterned(/(^$|^[a-f0-9]{64}$)/).optional(),
    imagePullPolicy: z.enum(['UNSPECIFIED_POLICY', 'IfNotPresent', 'Always']).optional(),
    imagePullSecret: z.string().min(1).max(253).optional(),
    verificationKey: z.string().optional(),
    pluginConfig: z.record(z.string(), z.unknown()).optional(),
    pluginName: z.string().min(1).max(256).optional(),
    phase: z.enum(['UNSPECIFIED_PHASE', 'AUTHN', 'AUTHZ', 'STATS']).optional(),
    priority: z.number().int().nullable().optional(),
    failStrategy: z.enum(['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD']).optional(),
    vmConfig: vmConfig.optional(),
    match: z.array(trafficSelector).optional(),
    type: z.enum(['UNSPECIFIED_PLUGIN_TYPE', 'HTTP', 'NETWORK']).optional(),
  })
  .superRefine(oneTargetingRule());
export type WasmPluginSpec = z.infer<typeof wasmPluginSpec>;

/** Webhook rules of istio validation.go `ValidateWasmPlugin` beyond the CRD schema. */
export function validateWasmPlugin(spec: WasmPluginSpec, ctx: ValidationContext): void {
  validateTargeting(spec, ctx);
}
