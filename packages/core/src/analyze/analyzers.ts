import { analyzeAnnotations } from './analyzers/annotations.js';
import { analyzeApplicationUid } from './analyzers/application-uid.js';
import { analyzeAuthorizationWorkloads } from './analyzers/authz-workloads.js';
import { analyzeAuthorizationNamespaces } from './analyzers/authz-namespaces.js';
import { analyzeDeploymentServices } from './analyzers/deployment-services.js';
import { analyzeDeprecations } from './analyzers/deprecation.js';
import { analyzeBlockedCidrs } from './analyzers/blocked-cidrs.js';
import { analyzeCaCertificates } from './analyzers/destination-rule-ca.js';
import { analyzeSubsetPods } from './analyzers/destination-rule-subsets.js';
import { analyzeEnvoyFilterPatches } from './analyzers/envoyfilter-patches.js';
import { analyzeGatewayCertificates } from './analyzers/gateway-certificates.js';
import { analyzeConflictingGateways } from './analyzers/gateway-conflicts.js';
import { analyzeGatewaySecrets } from './analyzers/gateway-secrets.js';
import { analyzeGatewayWorkloads } from './analyzers/gateway-workloads.js';
import { analyzeSidecarSelectors } from './analyzers/sidecar-selectors.js';
import { analyzeKubernetesGatewaySelectors } from './analyzers/k8sgateway-selectors.js';
import { analyzeServicePortNames } from './analyzers/service-port-names.js';
import { analyzeServiceEntryAddresses } from './analyzers/serviceentry-addresses.js';
import { analyzeConflictingServiceEntryProtocols } from './analyzers/serviceentry-protocols.js';
import { analyzeLightstepProviders } from './analyzers/telemetry-lightstep.js';
import { analyzeTelemetryProviders } from './analyzers/telemetry-providers.js';
import {
  analyzeTelemetryDefaultSelectors,
  analyzeTelemetrySelectors,
} from './analyzers/telemetry-selectors.js';
import { analyzeDestinationHosts } from './analyzers/vs-destination-hosts.js';
import { analyzeIngressSubsets } from './analyzers/vs-ingress-subsets.js';
import { analyzeDestinationSubsets } from './analyzers/vs-destination-rules.js';
import { analyzeJwtClaimRoutes } from './analyzers/vs-jwt-claim-routes.js';
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
    'annotations.K8sAnalyzer',
    'Checks for misplaced and invalid Istio annotations in Kubernetes resources',
    analyzeAnnotations,
  ),
  analyzer('applicationUID.Analyzer', 'Checks invalid application UID', analyzeApplicationUid),
  analyzer(
    'authn.BlockedCIDRsAnalyzer',
    'Checks that BLOCKED_CIDRS_IN_JWKS_URIS is configured on istiod when RequestAuthentication resources exist',
    analyzeBlockedCidrs,
  ),
  analyzer('auth.AuthorizationPoliciesAnalyzer', 'Checks the validity of authorization policies', (ctx) => [
    ...analyzeAuthorizationWorkloads(ctx),
    ...analyzeAuthorizationNamespaces(ctx),
  ]),
  analyzer(
    'deployment.MultiServiceAnalyzer',
    'Checks association between services and pods',
    analyzeDeploymentServices,
  ),
  analyzer(
    'deprecation.DeprecationAnalyzer',
    'Checks for deprecated Istio types and fields',
    analyzeDeprecations,
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
  analyzer('envoyfilter.EnvoyPatchAnalyzer', 'Checks an envoyFilters ', analyzeEnvoyFilterPatches),
  analyzer('gateway.CertificateAnalyzer', 'Checks a gateway certificate', analyzeGatewayCertificates),
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
    'k8sgateway.SelectorAnalyzer',
    'Check that selectors are effective for Kubernetes gateway',
    analyzeKubernetesGatewaySelectors,
  ),
  analyzer(
    'service.PortNameAnalyzer',
    'Checks the port names associated with each service',
    analyzeServicePortNames,
  ),
  analyzer(
    'sidecar.SelectorAnalyzer',
    "Validates that sidecars that define a workload selector match at least one pod, and that there aren't multiple sidecar resources that select overlapping pods",
    analyzeSidecarSelectors,
  ),
  analyzer('serviceentry.Analyzer', 'Checks the validity of ServiceEntry', analyzeServiceEntryAddresses),
  analyzer(
    'serviceentry.ConflictingServiceEntryProtocolAnalyzer',
    'Checks if multiple ServiceEntries define the same host and port with different protocols',
    analyzeConflictingServiceEntryProtocols,
  ),
  analyzer(
    'telemetry.DefaultSelectorAnalyzer',
    "Validates that there aren't multiple telemetry resources that have no selector",
    analyzeTelemetryDefaultSelectors,
  ),
  analyzer(
    'telemetry.LightstepAnalyzer',
    'Validates that lightstep provider is still used',
    analyzeLightstepProviders,
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
    (ctx) => [...analyzeDestinationHosts(ctx), ...analyzeIngressSubsets(ctx)],
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
  analyzer(
    'virtualservice.JWTClaimRouteAnalyzer',
    'Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication',
    analyzeJwtClaimRoutes,
  ),
]);
