import { z } from 'zod';
import {
  labelSelector,
  oneTargetingRule,
  policyTargetReference,
  policyTargetReferences,
} from './security-common.js';

/**
 * Shapes of `security.istio.io` AuthorizationPolicy
 * (istio/api security/v1beta1/authorization_policy.proto). The webhook rules are
 * in authorization-policy-validate.ts.
 */

const strings = () => z.array(z.string());
const serviceAccounts = () => z.array(z.string().max(320)).max(16);

/** `Source`: who the request comes from. Fields are ANDed, list items ORed. */
export const source = z
  .strictObject({
    principals: strings().optional(),
    notPrincipals: strings().optional(),
    requestPrincipals: strings().optional(),
    notRequestPrincipals: strings().optional(),
    namespaces: strings().optional(),
    notNamespaces: strings().optional(),
    serviceAccounts: serviceAccounts().optional(),
    notServiceAccounts: serviceAccounts().optional(),
    ipBlocks: strings().optional(),
    notIpBlocks: strings().optional(),
    remoteIpBlocks: strings().optional(),
    notRemoteIpBlocks: strings().optional(),
    trustDomains: strings().optional(),
    notTrustDomains: strings().optional(),
  })
  .superRefine((src, ctx) => {
    // CRD CEL rule on Source.
    const sa = src.serviceAccounts !== undefined || src.notServiceAccounts !== undefined;
    const other =
      src.principals !== undefined ||
      src.notPrincipals !== undefined ||
      src.namespaces !== undefined ||
      src.notNamespaces !== undefined;
    if (sa && other)
      ctx.addIssue({ code: 'custom', message: 'Cannot set serviceAccounts with namespaces or principals' });
  });
export type Source = z.infer<typeof source>;

/** `Operation`: what the request does. */
export const operation = z.strictObject({
  hosts: strings().optional(),
  notHosts: strings().optional(),
  ports: strings().optional(),
  notPorts: strings().optional(),
  methods: strings().optional(),
  notMethods: strings().optional(),
  paths: strings().optional(),
  notPaths: strings().optional(),
});
export type Operation = z.infer<typeof operation>;

/** `Condition` (`when`): an attribute key with `values` and/or `notValues`. */
export const condition = z.strictObject({
  key: z.string(),
  values: strings().optional(),
  notValues: strings().optional(),
});
export type Condition = z.infer<typeof condition>;

/** `Rule.From` `{ source }`. */
export const ruleFrom = z.strictObject({ source: source.optional() });
export type RuleFrom = z.infer<typeof ruleFrom>;

/** `Rule.To` `{ operation }`. */
export const ruleTo = z.strictObject({ operation: operation.optional() });
export type RuleTo = z.infer<typeof ruleTo>;

/** `Rule`: (any from) AND (any to) AND (all when). */
export const rule = z.strictObject({
  from: z.array(ruleFrom).max(512).optional(),
  to: z.array(ruleTo).optional(),
  when: z.array(condition).optional(),
});
export type Rule = z.infer<typeof rule>;

/** `AuthorizationPolicy.Action`; unset means ALLOW. */
export const authorizationAction = z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']);
export type AuthorizationAction = z.infer<typeof authorizationAction>;

/** `ExtensionProvider` `{ name }` of a CUSTOM policy (a meshConfig extensionProviders name). */
export const extensionProviderRef = z.strictObject({ name: z.string().optional() });

/** `spec` of `security.istio.io` AuthorizationPolicy. */
export const authorizationPolicySpec = z
  .strictObject({
    selector: labelSelector().optional(),
    targetRef: policyTargetReference().optional(),
    targetRefs: policyTargetReferences().optional(),
    rules: z.array(rule).max(512).optional(),
    action: authorizationAction.optional(),
    provider: extensionProviderRef.optional(),
  })
  .superRefine(oneTargetingRule());
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpec>;
