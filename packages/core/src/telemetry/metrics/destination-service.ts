import { UNKNOWN } from '../peer-labels.js';
import type { DestinationService } from './metric-event.js';

/** Istio's special destination_service_name values for clusters without a service. */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';

/**
 * Build the `destination_service*` triple for a host. For a Kubernetes service FQDN
 * (`<name>.<ns>.svc.<domain>`) the name and namespace come from the host; for any
 * other host (a ServiceEntry) Istio's cluster metadata carries the host itself as the
 * name and the ServiceEntry's namespace, which the caller passes in `namespace`.
 * With neither, the first DNS label is the name (istio_stats.cc fallback).
 */
export function destinationServiceOf(
  host: string | null,
  known: { readonly name?: string; readonly namespace?: string } = {},
): DestinationService {
  if (host === null || host === '') {
    return Object.freeze({
      host: UNKNOWN,
      name: known.name ?? UNKNOWN,
      namespace: known.namespace ?? UNKNOWN,
    });
  }
  const bare = host.replace(/:\d+$/, '');
  const parts = bare.split('.');
  const svc = parts.indexOf('svc');
  if (svc === 2 && parts.length > 3) {
    return Object.freeze({
      host: bare,
      name: known.name ?? (parts[0] as string),
      namespace: known.namespace ?? (parts[1] as string),
    });
  }
  if (known.namespace !== undefined) {
    return Object.freeze({ host: bare, name: known.name ?? bare, namespace: known.namespace });
  }
  return Object.freeze({ host: bare, name: known.name ?? (parts[0] as string), namespace: UNKNOWN });
}

/** `request_protocol`: `grpc` when the request content-type is application/grpc (any `+suffix`), else `http`. */
export function requestProtocolOf(contentType: string | readonly string[] | undefined): 'http' | 'grpc' {
  const v = typeof contentType === 'string' ? contentType : contentType?.[0];
  return v !== undefined && /^application\/grpc(\+|;|$)/i.test(v.trim()) ? 'grpc' : 'http';
}
