import type { DiagnosticLevel } from '../config/diagnostic.js';

/** One entry of Istio's message catalogue (istio pkg/config/analysis/msg/messages.yaml). */
export interface MessageType {
  readonly code: string;
  readonly name: string;
  readonly level: DiagnosticLevel;
  /** Go `fmt` template, verbatim from messages.yaml. */
  readonly template: string;
}

function type(code: string, name: string, level: DiagnosticLevel, template: string): MessageType {
  return Object.freeze({ code, name, level, template });
}

/** The Istio message types `meshlet analyze` reports, templates verbatim from messages.yaml. */
export const MESSAGE_TYPES = Object.freeze({
  Deprecated: type('IST0002', 'Deprecated', 'Warning', 'Deprecated: %s'),
  ReferencedResourceNotFound: type(
    'IST0101',
    'ReferencedResourceNotFound',
    'Error',
    'Referenced %s not found: %q',
  ),
  SchemaValidationError: type('IST0106', 'SchemaValidationError', 'Error', 'Schema validation error: %v'),
  ConflictingMeshGatewayVirtualServiceHosts: type(
    'IST0109',
    'ConflictingMeshGatewayVirtualServiceHosts',
    'Error',
    'The VirtualServices %s associated with mesh gateway define the same host %s which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.',
  ),
  VirtualServiceDestinationPortSelectorRequired: type(
    'IST0112',
    'VirtualServiceDestinationPortSelectorRequired',
    'Error',
    'This VirtualService routes to a service %q that exposes multiple ports %v. Specifying a port in the destination is required to disambiguate.',
  ),
  NoServerCertificateVerificationDestinationLevel: type(
    'IST0128',
    'NoServerCertificateVerificationDestinationLevel',
    'Warning',
    'DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s',
  ),
  NoServerCertificateVerificationPortLevel: type(
    'IST0129',
    'NoServerCertificateVerificationPortLevel',
    'Warning',
    'DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s at port %s',
  ),
  VirtualServiceUnreachableRule: type(
    'IST0130',
    'VirtualServiceUnreachableRule',
    'Warning',
    'VirtualService rule %v not used (%s).',
  ),
  VirtualServiceIneffectiveMatch: type(
    'IST0131',
    'VirtualServiceIneffectiveMatch',
    'Info',
    'VirtualService rule %v match %v is not used (duplicate/overlapping match in rule %v).',
  ),
  VirtualServiceHostNotFoundInGateway: type(
    'IST0132',
    'VirtualServiceHostNotFoundInGateway',
    'Warning',
    'one or more host %v defined in VirtualService %s not found in Gateway %s.',
  ),
  SchemaWarning: type('IST0133', 'SchemaWarning', 'Warning', 'Schema validation warning: %v'),
  ConflictingGateways: type(
    'IST0145',
    'ConflictingGateways',
    'Error',
    'Conflict with gateways %s (workload selector %s, port %s, hosts %v).',
  ),
  DestinationRuleSubsetNotSelectPods: type(
    'IST0173',
    'DestinationRuleSubsetNotSelectPods',
    'Error',
    'The Subset %s defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).',
  ),
  InvalidTelemetryProvider: type(
    'IST0157',
    'InvalidTelemetryProvider',
    'Warning',
    'The Telemetry %v in namespace %q with empty providers will be ignored.',
  ),
  ConflictingTelemetryWorkloadSelectors: type(
    'IST0159',
    'ConflictingTelemetryWorkloadSelectors',
    'Error',
    'The Telemetries %v in namespace %q select the same workload pod %q, which can lead to undefined behavior.',
  ),
  MultipleTelemetriesWithoutWorkloadSelectors: type(
    'IST0160',
    'MultipleTelemetriesWithoutWorkloadSelectors',
    'Error',
    'The Telemetries %v in namespace %q have no workload selector, which can lead to undefined behavior.',
  ),
  UnknownDestinationRuleHost: type(
    'IST0174',
    'UnknownDestinationRuleHost',
    'Warning',
    'The host %s defined in the DestinationRule does not match any services in the mesh.',
  ),
} as const);

/** Every code in Istio's catalogue, so `-S` can warn about an unknown one as istioctl does. */
const ISTIO_CODES: ReadonlySet<string> = new Set([
  'IST0001',
  'IST0002',
  'IST0101',
  'IST0102',
  'IST0103',
  'IST0106',
  'IST0107',
  'IST0108',
  'IST0109',
  'IST0110',
  'IST0111',
  'IST0112',
  'IST0116',
  'IST0118',
  'IST0123',
  'IST0125',
  'IST0126',
  'IST0127',
  'IST0128',
  'IST0129',
  'IST0130',
  'IST0131',
  'IST0132',
  'IST0133',
  'IST0134',
  'IST0135',
  'IST0136',
  'IST0137',
  'IST0138',
  'IST0139',
  'IST0140',
  'IST0141',
  'IST0142',
  'IST0143',
  'IST0144',
  'IST0145',
  'IST0146',
  'IST0147',
  'IST0148',
  'IST0149',
  'IST0150',
  'IST0151',
  'IST0152',
  'IST0153',
  'IST0154',
  'IST0155',
  'IST0156',
  'IST0172',
  'IST0157',
  'IST0158',
  'IST0159',
  'IST0160',
  'IST0161',
  'IST0162',
  'IST0163',
  'IST0164',
  'IST0165',
  'IST0166',
  'IST0167',
  'IST0168',
  'IST0169',
  'IST0170',
  'IST0171',
  'IST0173',
  'IST0174',
  'IST0175',
  'IST0176',
  'IST0177',
]);

export function isKnownCode(code: string): boolean {
  return ISTIO_CODES.has(code) || code.startsWith('MESHLET');
}
