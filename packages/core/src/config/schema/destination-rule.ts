import { z } from 'zod';
import { workloadSelector } from '../validate/fields.js';
import { subset, trafficPolicy } from './destination-rule-traffic-policy.js';

export type {
  ClientTLSSettings,
  ConnectionPoolSettings,
  ConsistentHashLB,
  HTTPSettings,
  LoadBalancerSettings,
  LocalityLoadBalancerSetting,
  OutlierDetection,
  PortTrafficPolicy,
  RetryBudget,
  Subset,
  TCPSettings,
  TrafficPolicy,
  TunnelSettings,
} from './destination-rule-traffic-policy.js';

/** DestinationRule `spec` (istio/api networking/v1alpha3/destination_rule.proto). */
export const destinationRuleSpec = z.strictObject({
  host: z.string(),
  trafficPolicy: trafficPolicy.optional(),
  subsets: z.array(subset).optional(),
  exportTo: z.array(z.string()).optional(),
  /** istio.type.v1beta1.WorkloadSelector `{ matchLabels }`. */
  workloadSelector: workloadSelector().optional(),
});
export type DestinationRuleSpec = z.infer<typeof destinationRuleSpec>;
