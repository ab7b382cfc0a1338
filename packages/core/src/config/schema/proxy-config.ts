import { z } from 'zod';
import type { ValidationContext } from '../validate/context.js';
import { labelSelector, validateTargeting } from './security-common.js';

/**
 * `spec` of `networking.istio.io` ProxyConfig (istio/api networking/v1beta1/proxy_config.proto).
 * meshlet has no proxy to configure; the kind is validated and reported as unsupported.
 */
export const proxyConfigSpec = z.strictObject({
  selector: labelSelector().optional(),
  /** `google.protobuf.Int32Value`; the CRD and the webhook both want >= 0. */
  concurrency: z.number().int().min(0).nullable().optional(),
  environmentVariables: z.record(z.string(), z.string().max(2048)).optional(),
  image: z.strictObject({ imageType: z.string().optional() }).optional(),
});
export type ProxyConfigSpec = z.infer<typeof proxyConfigSpec>;

/** Webhook rules of istio validation.go `ValidateProxyConfig` beyond the CRD schema. */
export function validateProxyConfig(spec: ProxyConfigSpec, ctx: ValidationContext): void {
  validateTargeting(spec, ctx);
}
