import type { AuthorizationPolicySpec } from '../config/schema/authorization-policy.js';
import type { DestinationRuleSpec } from '../config/schema/destination-rule.js';
import type { EnvoyFilterSpec } from '../config/schema/envoy-filter.js';
import type { PeerAuthenticationSpec } from '../config/schema/peer-authentication.js';
import type { RequestAuthenticationSpec } from '../config/schema/request-authentication.js';
import type { ServiceEntrySpec } from '../config/schema/service-entry.js';
import type { VirtualServiceSpec } from '../config/schema/virtual-service.js';
import type { WorkloadEntrySpec } from '../config/schema/workload-entry.js';
import type {
  AuthorizationPolicyIn,
  DestinationRuleIn,
  EnvoyFilterIn,
  PeerAuthenticationIn,
  RequestAuthenticationIn,
  ServiceEntryIn,
  VirtualServiceIn,
  WorkloadEntryIn,
} from './spec-types.js';

/**
 * Compile-time proof that every validated spec (the zod schema types) fits the
 * read-only view the compiler reads it through (spec-types.ts). If a schema field
 * changes type, `tsc` fails here instead of the compiler misreading a plan.
 */
type Fits<Spec, View> = Spec extends View ? true : never;

export const SPEC_TYPES_FIT: readonly true[] = [
  true satisfies Fits<VirtualServiceSpec, VirtualServiceIn>,
  true satisfies Fits<DestinationRuleSpec, DestinationRuleIn>,
  true satisfies Fits<ServiceEntrySpec, ServiceEntryIn>,
  true satisfies Fits<WorkloadEntrySpec, WorkloadEntryIn>,
  true satisfies Fits<PeerAuthenticationSpec, PeerAuthenticationIn>,
  true satisfies Fits<RequestAuthenticationSpec, RequestAuthenticationIn>,
  true satisfies Fits<AuthorizationPolicySpec, AuthorizationPolicyIn>,
  true satisfies Fits<EnvoyFilterSpec, EnvoyFilterIn>,
];
