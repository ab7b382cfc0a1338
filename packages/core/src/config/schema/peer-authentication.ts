import { z } from 'zod';
import type { ValidationContext } from '../validate/context.js';
import { labelSelector, validateTargeting } from './security-common.js';

/** `PeerAuthentication.MutualTLS.Mode` (istio/api security/v1beta1/peer_authentication.proto). */
export const mtlsMode = z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
export type MtlsMode = z.infer<typeof mtlsMode>;

/** `PeerAuthentication.MutualTLS` `{ mode }`. */
export const mutualTls = z.strictObject({ mode: mtlsMode.optional() });
export type MutualTls = z.infer<typeof mutualTls>;

/**
 * `portLevelMtls`: keys are workload port numbers written as strings. CRD rules:
 * at least one entry, every key an integer in 1-65535.
 */
const portLevelMtls = z.record(z.string(), mutualTls).superRefine((ports, ctx) => {
  const keys = Object.keys(ports);
  if (keys.length === 0)
    ctx.addIssue({ code: 'custom', message: 'in body should have at least 1 properties' });
  for (const key of keys) {
    if (!/^[+-]?\d+$/.test(key)) {
      // The CRD rule evaluates int(key); a non-number key fails CEL's conversion.
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `type conversion error from 'string' to 'int': port ${JSON.stringify(key)} is not a number`,
      });
    } else if (!(Number(key) > 0 && Number(key) <= 65535)) {
      ctx.addIssue({ code: 'custom', path: [key], message: 'port must be between 1-65535' });
    }
  }
});

/** `spec` of `security.istio.io` PeerAuthentication. */
export const peerAuthenticationSpec = z
  .strictObject({
    selector: labelSelector().optional(),
    mtls: mutualTls.optional(),
    portLevelMtls: portLevelMtls.optional(),
  })
  .superRefine((spec, ctx) => {
    // CRD CEL rule: port-level settings only make sense for a selected workload.
    if (spec.portLevelMtls !== undefined && Object.keys(spec.selector?.matchLabels ?? {}).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['portLevelMtls'], message: 'portLevelMtls requires selector' });
    }
  });
export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpec>;

/** Webhook rules of istio validation.go `ValidatePeerAuthentication` beyond the CRD schema. */
export function validatePeerAuthentication(spec: PeerAuthenticationSpec, ctx: ValidationContext): void {
  validateTargeting(spec, ctx);
}
