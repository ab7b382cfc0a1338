import { analyzeAuthorizationNamespaces } from './analyzers/authz-namespaces.js';
import { analyzeCaCertificates } from './analyzers/destination-rule-ca.js';
import { analyzeSubsetPods } from './analyzers/destination-rule-subsets.js';
import { analyzeConflictingGateways } from './analyzers/gateway-conflicts.js';
import { analyzeGatewaySecrets } from './analyzers/gateway-secrets.js';
import { analyzeGatewayWorkloads } from './analyzers/gateway-workloads.js';
import { analyzeTelemetryProviders } from './analyzers/telemetry-providers.js';
import {
  analyzeTelemetryDefaultSelectors,
  analyzeTelemetrySelectors,
} from './analyzers/telemetry-selectors.js';
import { analyzeDestinationHosts } from './analyzers/vs-destination-hosts.js';
import { analyzeDestinationSubsets } from './analyzers/vs-destination-rules.js';
import { analyzeVirtualServiceGateways } from './analyzers/vs-gateways.js';
import { analyzeMeshGatewayHostConflicts } from './analyzers/vs-mesh-host-conflicts.js';
import type { AnalysisContext } from './context.js';
import type { AnalysisMessage } from './message.js';

/** One analyzer, named as in istio's `analyzers.All()` (`istioctl analyze -L`). */
export interface Analyzer {
  readonly name: string;
  readonly description: string;
  readonly run: (ctx: AnalysisContext) => AnalysisMessage[];
}

function analyzer(name: string, description: string, run: Analyzer['run']): Analyzer {
  return Object.freeze({ name, description, run });
}

/** The Istio analyzers meshlet runs over files, with Istio's names and descriptions. */
export const ANALYZERS: readonly Analyzer[] = Object.freeze([
  analyzer(
    'auth.AuthorizationPoliciesAnalyzer',
    'Checks the validity of authorization policies',
    analyzeAuthorizationNamespaces,
  ),
  analyzer(
    'destinationrule.CaCertificateAnalyzer',
    'Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL',
    analyzeCaCertificates,
  ),
  analyzer(
    'destinationrule.SubsetSelectPodAnalyzer',
    'Checks if pods are selected by subsets in destination rules.',
    analyzeSubsetPods,
  ),
  analyzer(
    'gateway.ConflictingGatewayAnalyzer',
    "Checks a gateway's selector, port number and hosts",
    analyzeConflictingGateways,
  ),
  analyzer(
    'gateway.IngressGatewayPortAnalyzer',
    "Checks a gateway's ports against the gateway's Kubernetes service ports",
    analyzeGatewayWorkloads,
  ),
  analyzer(
    'gateway.SecretAnalyzer',
    "Checks a gateway's referenced secrets for correctness",
    analyzeGatewaySecrets,
  ),
  analyzer(
    'telemetry.DefaultSelectorAnalyzer',
    "Validates that there aren't multiple telemetry resources that have no selector",
    analyzeTelemetryDefaultSelectors,
  ),
  analyzer(
    'telemetry.ProviderAnalyzer',
    'Validates that providers in telemetry resource is valid',
    analyzeTelemetryProviders,
  ),
  analyzer(
    'telemetry.SelectorAnalyzer',
    "Validates that telemetries that define a selector match at least one pod, and that there aren't multiple telemetry resources that select overlapping pods",
    analyzeTelemetrySelectors,
  ),
  analyzer(
    'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
    'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
    analyzeMeshGatewayHostConflicts,
  ),
  analyzer(
    'virtualservice.DestinationHostAnalyzer',
    'Checks the destination hosts associated with each virtual service',
    analyzeDestinationHosts,
  ),
  analyzer(
    'virtualservice.DestinationRuleAnalyzer',
    'Checks the destination rules associated with each virtual service',
    analyzeDestinationSubsets,
  ),
  analyzer(
    'virtualservice.GatewayAnalyzer',
    'Checks the gateways associated with each virtual service',
    analyzeVirtualServiceGateways,
  ),
]);
