import type { Socket } from 'node:net';
import type { ResponseFlag } from '../../outbound/meshlet-info.js';
import { addressOf } from '../../outbound/tcp-observer.js';
import type { AccessLogEntry } from '../../telemetry/access-log/entry.js';
import { inboundClusterOf } from '../../telemetry/inbound-services.js';
import type { MeshTelemetry } from '../../telemetry/mesh-telemetry.js';
import type { MetricEvent } from '../../telemetry/metrics/metric-event.js';
import { tcpEvent, TcpReports } from '../../telemetry/metrics/tcp-reports.js';
import { tcpEntry } from '../../telemetry/access-log/tcp-entry.js';
import type { TcpExchangeState } from '../../telemetry/metadata-exchange/tcp-exchange.js';
import { peerFromIdentity, peerWithMetadata, type PeerLabels } from '../../telemetry/peer-labels.js';
import type { PeerIdentity } from '../request-context.js';

/** Both ends of a connection as the access log reports them. */
export interface ConnectionAddresses {
  readonly local: { readonly address: string | undefined; readonly port: number | undefined };
  readonly remote: { readonly address: string | undefined; readonly port: number | undefined };
}

/**
 * One inbound TCP connection's telemetry, as a sidecar's inbound TCP chain reports it:
 * `istio_tcp_*` with reporter `destination` (the stats filter after the network RBAC
 * filter; it hears every connection the chain took, a refused one too, at its close),
 * source labels from the verified peer's certificate (`connection_security_policy`
 * `mutual_tls`) or `unknown` for plaintext, `destination_service` the Service selecting
 * the workload on the port; and one access log line at close (the SERVER log), with
 * `%CONNECTION_TERMINATION_DETAILS%` `rbac_access_denied_matched_policy[...]` for a
 * connection the RBAC filter closed.
 */
export class TcpInboundObserver {
  readonly #t: MeshTelemetry;
  readonly #socket: Socket;
  readonly #port: number;
  readonly #peer: PeerIdentity | null;
  readonly #sni: string | null;
  readonly #exchange: TcpExchangeState | null;
  readonly #local: string | null;
  readonly #remote: string | null;
  readonly #startMs: number;
  readonly #startEpoch = Date.now();
  readonly #reports: TcpReports;
  #terminationDetails: string | null = null;
  /** `UAEX` once the network ext_authz filter refused the connection. */
  #flags: readonly ResponseFlag[] = [];
  #served = false;
  #closed = false;

  constructor(
    t: MeshTelemetry,
    socket: Socket,
    port: number,
    peer: PeerIdentity | null,
    sni: string | null,
    addresses: ConnectionAddresses,
    exchange: TcpExchangeState | null,
  ) {
    this.#exchange = exchange;
    this.#t = t;
    this.#socket = socket;
    this.#port = port;
    this.#peer = peer;
    this.#sni = sni;
    this.#local = addressOf(addresses.local.address, addresses.local.port);
    this.#remote = addressOf(addresses.remote.address, addresses.remote.port);
    this.#startMs = t.clock.now();
    this.#reports = new TcpReports(
      () => t.metrics,
      t.clock,
      () => this.#metricEvent(),
    );
    this.#reports.meter(() => this.#bytes());
    socket.once('close', () => this.#close());
  }

  /** The application has the connection: reports every interval while it is open. */
  served(): void {
    this.#served = true;
    this.#reports.start();
  }

  /** The network RBAC filter closed the connection (`rbac_access_denied_matched_policy[...]`). */
  denied(terminationDetails: string | null, flags: readonly ResponseFlag[]): void {
    this.#terminationDetails = terminationDetails;
    this.#flags = flags;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#reports.close(true);
      const log = this.#t.accessLog.server;
      if (log.enabled) log.log(this.#entry());
    } catch {
      // Telemetry never throws into the application.
    }
  }

  #metricEvent(): MetricEvent {
    const t = this.#t;
    return tcpEvent({
      reporter: 'destination',
      source: this.#source(),
      destination: t.metrics.local,
      destinationService: t.inboundService(this.#port),
      port: this.#port,
      flags: [...this.#flags],
      mtls: this.#peer !== null,
    });
  }

  /** The certificate's peer, with the workload labels its metadata exchange sent (istio_stats.cc). */
  #source(): PeerLabels {
    const base = peerFromIdentity(this.#peer);
    const m = this.#exchange?.peer() ?? null;
    return m === null ? base : peerWithMetadata(base, m);
  }

  /** The application's bytes each way: the exchange frames are the filter's, not tcp_proxy's. */
  #bytes(): { received: number; sent: number } {
    const ex = this.#exchange?.bytes;
    const socket = this.#socket;
    return {
      received: socket.bytesRead - (ex?.received ?? 0),
      sent: socket.bytesWritten - (ex?.sent ?? 0),
    };
  }

  #entry(): AccessLogEntry {
    const socket = this.#socket;
    const bytes = this.#bytes();
    return tcpEntry({
      startTime: this.#startEpoch,
      responseFlags: [...this.#flags],
      connectionTerminationDetails: this.#terminationDetails,
      upstreamTransportFailureReason: null,
      bytesReceived: bytes.received,
      bytesSent: bytes.sent,
      durationMs: Math.round(this.#t.clock.now() - this.#startMs),
      // The application is the inbound cluster's one endpoint, at the address it was reached on.
      upstreamHost: this.#served ? this.#local : null,
      upstreamCluster: inboundClusterOf(this.#t.inboundService(this.#port), this.#port),
      upstreamLocalAddress: null,
      downstreamLocalAddress: this.#local,
      downstreamRemoteAddress: this.#remote,
      downstreamDirectRemoteAddress: this.#remote,
      requestedServerName: this.#sni,
      direction: 'INBOUND',
      connection: socket,
    });
  }
}
