/** Where an Istio annotation may be placed (istio/api annotation `ResourceTypes`). */
export type AnnotationResource =
  | 'Any'
  | 'AuthorizationPolicy'
  | 'Gateway'
  | 'GatewayClass'
  | 'Ingress'
  | 'Namespace'
  | 'Pod'
  | 'Service'
  | 'ServiceEntry'
  | 'WorkloadEntry';

export interface IstioAnnotation {
  readonly name: string;
  readonly deprecated: boolean;
  readonly resources: readonly AnnotationResource[];
}

type Row = readonly [string, boolean, readonly AnnotationResource[]];

/**
 * Istio's annotation table: name, deprecated flag and the resources each may
 * be placed on, in the order of istio/api annotation/annotations.gen.go
 * `AllResourceAnnotations()` (istio/api b8f8791d, July 2026).
 */
const ROWS: readonly Row[] = [
  ['alpha.istio.io/canonical-serviceaccounts', true, ['Service']],
  ['alpha.istio.io/kubernetes-serviceaccounts', true, ['Service']],
  ['ambient.istio.io/bypass-inbound-capture', false, ['Pod']],
  ['ambient.istio.io/dns-capture', false, ['Pod']],
  ['ambient.istio.io/redirection', false, ['Pod']],
  ['ambient.istio.io/waypoint-inbound-binding', false, ['GatewayClass', 'Gateway']],
  ['galley.istio.io/analyze-suppress', false, ['Any']],
  ['gateway.istio.io/controller-version', false, ['Any']],
  ['gateway.istio.io/name-override', false, ['Gateway']],
  ['gateway.istio.io/service-account', false, ['Gateway']],
  ['inject.istio.io/templates', false, ['Pod']],
  ['istio.io/autoRegistrationGroup', false, ['WorkloadEntry']],
  ['istio.io/connectedAt', false, ['WorkloadEntry']],
  ['istio.io/disconnectedAt', false, ['WorkloadEntry']],
  ['istio.io/dry-run', false, ['AuthorizationPolicy']],
  ['istio.io/reroute-virtual-interfaces', false, ['Pod']],
  ['istio.io/rev', false, ['Pod']],
  ['istio.io/use-waypoint-canary-weight', false, ['Service', 'ServiceEntry', 'Namespace']],
  ['istio.io/workloadController', false, ['WorkloadEntry']],
  ['kubernetes.io/ingress.class', false, ['Ingress']],
  ['networking.istio.io/exportTo', false, ['Service']],
  ['networking.istio.io/service-type', false, ['Gateway']],
  ['networking.istio.io/traffic-distribution', false, ['Namespace', 'Service', 'ServiceEntry']],
  ['prometheus.istio.io/merge-metrics', false, ['Pod']],
  ['proxy.istio.io/config', false, ['Pod']],
  ['proxy.istio.io/overrides', false, ['Pod']],
  ['readiness.status.sidecar.istio.io/applicationPorts', false, ['Pod']],
  ['readiness.status.sidecar.istio.io/failureThreshold', false, ['Pod']],
  ['readiness.status.sidecar.istio.io/initialDelaySeconds', false, ['Pod']],
  ['readiness.status.sidecar.istio.io/periodSeconds', false, ['Pod']],
  ['sidecar.istio.io/agentLogLevel', false, ['Pod']],
  ['sidecar.istio.io/bootstrapOverride', false, ['Pod']],
  ['sidecar.istio.io/componentLogLevel', false, ['Pod']],
  ['sidecar.istio.io/discoveryAddress', true, ['Pod']],
  ['sidecar.istio.io/extraStatTags', true, ['Pod']],
  ['sidecar.istio.io/inject', true, ['Pod']],
  ['sidecar.istio.io/interceptionMode', false, ['Pod']],
  ['sidecar.istio.io/logLevel', false, ['Pod']],
  ['sidecar.istio.io/nativeSidecar', false, ['Pod']],
  ['sidecar.istio.io/proxyCPU', false, ['Pod']],
  ['sidecar.istio.io/proxyCPULimit', false, ['Pod']],
  ['sidecar.istio.io/proxyImage', false, ['Pod']],
  ['sidecar.istio.io/proxyImageType', false, ['Pod']],
  ['sidecar.istio.io/proxyMemory', false, ['Pod']],
  ['sidecar.istio.io/proxyMemoryLimit', false, ['Pod']],
  ['sidecar.istio.io/rewriteAppHTTPProbers', false, ['Pod']],
  ['sidecar.istio.io/statsCompression', true, ['Pod']],
  ['sidecar.istio.io/statsEvictionInterval', false, ['Pod']],
  ['sidecar.istio.io/statsFlushInterval', false, ['Pod']],
  ['sidecar.istio.io/statsHistogramBins', false, ['Pod']],
  ['sidecar.istio.io/statsHistogramBuckets', false, ['Pod']],
  ['sidecar.istio.io/statsInclusionPrefixes', true, ['Pod']],
  ['sidecar.istio.io/statsInclusionRegexps', true, ['Pod']],
  ['sidecar.istio.io/statsInclusionSuffixes', true, ['Pod']],
  ['sidecar.istio.io/status', false, ['Pod']],
  ['sidecar.istio.io/userVolume', false, ['Pod']],
  ['sidecar.istio.io/userVolumeMount', false, ['Pod']],
  ['status.sidecar.istio.io/port', false, ['Pod']],
  ['topology.istio.io/controlPlaneClusters', false, ['Namespace']],
  ['traffic.istio.io/nodeSelector', false, ['Service']],
  ['traffic.sidecar.istio.io/excludeInboundPorts', false, ['Pod']],
  ['traffic.sidecar.istio.io/excludeInterfaces', false, ['Pod']],
  ['traffic.sidecar.istio.io/excludeOutboundIPRanges', false, ['Pod']],
  ['traffic.sidecar.istio.io/excludeOutboundPorts', false, ['Pod']],
  ['traffic.sidecar.istio.io/includeInboundPorts', false, ['Pod']],
  ['traffic.sidecar.istio.io/includeOutboundIPRanges', false, ['Pod']],
  ['traffic.sidecar.istio.io/includeOutboundPorts', false, ['Pod']],
  ['traffic.sidecar.istio.io/kubevirtInterfaces', true, ['Pod']],
];

export const ISTIO_ANNOTATIONS: ReadonlyMap<string, IstioAnnotation> = new Map(
  ROWS.map(([name, deprecated, resources]) => [name, Object.freeze({ name, deprecated, resources })]),
);
