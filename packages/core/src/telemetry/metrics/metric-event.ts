import type { AccessLogEntry } from '../access-log/entry.js';
import type { PeerLabels } from '../peer-labels.js';

/**
 * The service a request was sent to, as `destination_service*` label it: Istio reads
 * it from the upstream cluster's metadata (`istio.services[0]`). Build it once per
 * host with `destinationServiceOf` and reuse it.
 */
export interface DestinationService {
  /** `destination_service`: the FQDN, e.g. `reviews.default.svc.cluster.local`. */
  readonly host: string;
  /** `destination_service_name`. */
  readonly name: string;
  /** `destination_service_namespace`. */
  readonly namespace: string;
  /**
   * Inbound, the Service's port that targets the local port: the port istiod names the
   * inbound chain's route operation and virtual host after (listener_inbound.go, the
   * chain's `ServicePort`). Absent when not known (then the local port stands for it).
   */
  readonly port?: number;
}

/**
 * One finished HTTP request, as the outbound client (reporter `source`) or the
 * inbound engine (reporter `destination`) saw it. Plain data; the peer and service
 * objects should be prepared once and reused, so label sets are cached per pair.
 */
export interface MetricEvent {
  readonly reporter: 'source' | 'destination';
  readonly source: PeerLabels;
  readonly destination: PeerLabels;
  readonly destinationService: DestinationService;
  /** The destination port (service port on the client, workload port on the server). */
  readonly port: number;
  /**
   * `grpc` when the request content-type is application/grpc, else `http`; `tcp` for a
   * proxied TCP connection (tcp-report.ts).
   */
  readonly protocol: 'http' | 'grpc' | 'tcp';
  /** The response status; 0 when no response was sent (Envoy reports `"0"`). */
  readonly status: number;
  /**
   * `grpc_response_status` of a gRPC request (`grpcResponseStatus`); null or absent when no
   * response was sent. Read only when `protocol` is `grpc`.
   */
  readonly grpcStatus?: string | number | null;
  /** Envoy response flags; empty when none (label `-`). */
  readonly flags: readonly string[];
  /**
   * Whether the request's connection was Istio mTLS: on the server, the caller presented a
   * mesh certificate; on the client, the try that answered used ISTIO_MUTUAL. Only then
   * are the local principal (and on the client the peer's) reported; otherwise `unknown`,
   * as Istio reads them from the connection's certificates. The client's
   * `connection_security_policy` is `unknown` either way.
   */
  readonly mtls: boolean;
  /** Milliseconds, fractional; recorded whole, as Envoy does. */
  readonly durationMs: number;
  /** Downstream request bytes (headers and body, as Envoy counts on the wire). */
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Request headers (lower-case keys), read only by tagOverrides expressions. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Request method and path (with the query), read only by tagOverrides expressions. */
  readonly method?: string;
  readonly path?: string;
  /** The request's HTTP version (`1.1`, `1.0`), read only by tagOverrides; `1.1` when absent. */
  readonly httpVersion?: string;
  /**
   * The request's access-log entry, built only when a tagOverrides expression reads an
   * attribute the event does not carry (`connection.tls_version`, `upstream.locality`...):
   * istio_stats evaluates over the same stream info as the access log.
   */
  readonly entry?: () => AccessLogEntry;
}
