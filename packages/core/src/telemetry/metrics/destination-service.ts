import { UNKNOWN } from '../peer-labels.js';
import { isGrpcContentType } from './grpc-status.js';
import type { DestinationService } from './metric-event.js';

/** Istio's special destination_service_name values for clusters without a service. */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';

/**
 * Build the `destination_service*` triple for a host. A host the registry knows comes
 * with its namespace (Istio's cluster metadata `istio.services[0]`): a Kubernetes service
 * FQDN (`<name>.<ns>.svc.<domain>`) is named by its first label, any other host (a
 * ServiceEntry) by itself. Without a namespace the host is the client's Host header
 * fallback, kept raw, port and all, as both service and name
 * (istio/proxy testdata/metric/host_header_fallback.yaml.tmpl); its namespace is left
 * `unknown` for the label builder to fill from the peer.
 */
export function destinationServiceOf(
  host: string | null,
  known: { readonly name?: string; readonly namespace?: string; readonly port?: number } = {},
): DestinationService {
  if (host === null || host === '') {
    return Object.freeze({
      host: UNKNOWN,
      name: known.name ?? UNKNOWN,
      namespace: known.namespace ?? UNKNOWN,
    });
  }
  if (known.namespace === undefined) {
    return Object.freeze({ host, name: known.name ?? host, namespace: UNKNOWN });
  }
  const parts = host.split('.');
  const svcName = parts.indexOf('svc') === 2 && parts.length > 3 ? (parts[0] as string) : host;
  return Object.freeze({
    host,
    name: known.name ?? svcName,
    namespace: known.namespace,
    ...(known.port === undefined ? {} : { port: known.port }),
  });
}

/** `request_protocol`: `grpc` when Envoy takes the request for gRPC (`isGrpcContentType`), else `http`. */
export function requestProtocolOf(contentType: string | readonly string[] | undefined): 'http' | 'grpc' {
  return isGrpcContentType(contentType) ? 'grpc' : 'http';
}
