import { DIAGNOSTIC_CODES } from '../diagnostic-codes.js';
import { z } from 'zod';
import type { ValidationContext } from '../validate/context.js';
import {
  celDuration,
  labelSelector,
  nonEmpty,
  oneTargetingRule,
  patterned,
  policyTargetReference,
  policyTargetReferences,
  requestUriScheme,
  validateTargeting,
} from './security-common.js';

/** A JWKS URL: CRD `url(self).getScheme() in ["http", "https"]`, at most 2048 chars. */
const jwksUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine(
    (url) => {
      const scheme = requestUriScheme(url);
      return scheme === 'http' || scheme === 'https';
    },
    { message: 'url must have scheme http:// or https://' },
  );

/** `JWTHeader` `{ name, prefix }` (istio/api security/v1beta1/request_authentication.proto). */
export const jwtHeader = z.strictObject({ name: nonEmpty(), prefix: z.string().optional() });
export type JWTHeader = z.infer<typeof jwtHeader>;

/** `ClaimToHeader` `{ header, claim }`; the header must be a plain token name. */
export const claimToHeader = z.strictObject({
  header: patterned(/^[-_A-Za-z0-9]+$/).min(1),
  claim: nonEmpty(),
});
export type ClaimToHeader = z.infer<typeof claimToHeader>;

/** `JWTRule`: one accepted issuer and where to find and how to check its tokens. */
export const jwtRule = z
  .strictObject({
    issuer: nonEmpty().optional(),
    audiences: z.array(nonEmpty()).optional(),
    jwksUri: jwksUrl.optional(),
    /** The proto field name, which the CRD also accepts. */
    jwks_uri: jwksUrl.optional(),
    jwks: z.string().optional(),
    fromHeaders: z.array(jwtHeader).optional(),
    fromParams: z.array(nonEmpty()).optional(),
    fromCookies: z.array(nonEmpty()).optional(),
    outputPayloadToHeader: z.string().optional(),
    forwardOriginalToken: z.boolean().optional(),
    outputClaimToHeaders: z.array(claimToHeader).optional(),
    timeout: celDuration().optional(),
    spaceDelimitedClaims: z.array(nonEmpty()).max(64).optional(),
    presence: z.enum(['OPTIONAL', 'REQUIRED']).optional(),
  })
  .superRefine((rule, ctx) => {
    const set = [rule.jwksUri, rule.jwks_uri, rule.jwks].filter((v) => v !== undefined).length;
    if (set > 1) ctx.addIssue({ code: 'custom', message: 'only one of jwks or jwksUri can be set' });
  });
export type JWTRule = z.infer<typeof jwtRule>;

/** `spec` of `security.istio.io` RequestAuthentication. */
export const requestAuthenticationSpec = z
  .strictObject({
    selector: labelSelector().optional(),
    targetRef: policyTargetReference().optional(),
    targetRefs: policyTargetReferences().optional(),
    jwtRules: z.array(jwtRule).max(4096).optional(),
  })
  .superRefine(oneTargetingRule());
export type RequestAuthenticationSpec = z.infer<typeof requestAuthenticationSpec>;

/** Webhook rules of istio validation.go `ValidateRequestAuthentication` / `validateJwtRule`. */
export function validateRequestAuthentication(spec: RequestAuthenticationSpec, ctx: ValidationContext): void {
  validateTargeting(spec, ctx);
  spec.jwtRules?.forEach((rule, i) => {
    const path = ['spec', 'jwtRules', i] as const;
    const jwksUri = rule.jwksUri ?? rule.jwks_uri ?? '';
    if ((rule.issuer ?? '') === '' && jwksUri === '') {
      ctx.error([...path, 'issuer'], 'issuer or jwksUri must be non-empty string');
    }
    if (rule.jwks !== undefined && rule.jwks !== '') checkInlineJwks(rule.jwks, [...path, 'jwks'], ctx);
    if (rule.presence !== undefined)
      ctx.warn(
        [...path, 'presence'],
        'presence is validated but not enforced by meshlet (a request without a token still passes RequestAuthentication); to require a token, add an AuthorizationPolicy with `from: [{source: {requestPrincipals: ["*"]}}]`',
        DIAGNOSTIC_CODES.unsupported,
      );
  });
}

/** `jwk.Parse` in the webhook: a JSON key or key set; private key material only warns. */
function checkInlineJwks(jwks: string, path: readonly (string | number)[], ctx: ValidationContext): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwks);
  } catch (err) {
    ctx.error(path, `jwks parse error: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    ctx.error(path, 'jwks parse error: expected a JSON object (a JWK or a {"keys": [...]} set)');
    return;
  }
  const set = parsed as { keys?: unknown; kty?: unknown };
  const keys: unknown[] = Array.isArray(set.keys) ? set.keys : set.keys === undefined ? [parsed] : [];
  if (set.keys !== undefined && !Array.isArray(set.keys)) {
    ctx.error(path, 'jwks parse error: "keys" must be a list');
    return;
  }
  keys.forEach((key, i) => {
    if (typeof key !== 'object' || key === null || typeof (key as { kty?: unknown }).kty !== 'string') {
      ctx.error(path, `jwks parse error: key at index ${i} has no "kty"`);
      return;
    }
    const k = key as { kty: string; d?: unknown };
    if (k.d !== undefined || k.kty === 'oct') {
      ctx.warn(
        path,
        `jwks key at index ${i} contains private key material; only public keys are used for verification`,
      );
    }
  });
}
