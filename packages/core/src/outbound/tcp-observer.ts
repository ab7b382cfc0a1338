import type { Socket } from 'node:net';
import type { Cluster, MeshPlan } from '../compile/plan-types.js';
import { OutboundTelemetry } from './call-observer.js';
import { addFlag } from './flags.js';
import type { ResponseFlag } from './meshlet-info.js';
import { hostPort } from './upstream/host-state.js';
import type { UpstreamHost } from './upstream/types.js';
import type { Clock } from '../runtime/clock.js';
import type { AccessLogEntry } from '../telemetry/access-log/entry.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import {
  BLACKHOLE_CLUSTER,
  destinationServiceOf,
  type PASSTHROUGH_CLUSTER,
} from '../telemetry/metrics/destination-service.js';
import type { MetricEvent } from '../telemetry/metrics/metric-event.js';
import { tcpEvent, TcpReports, type TcpMeter } from '../telemetry/metrics/tcp-reports.js';
import { tcpEntry } from '../telemetry/access-log/tcp-entry.js';
import { UNKNOWN_PEER } from '../telemetry/peer-labels.js';
import type { PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';

export type { TcpMeter } from '../telemetry/metrics/tcp-reports.js';

/** The clusters Istio adds for traffic outside the registry. */
export type SpecialCluster = typeof PASSTHROUGH_CLUSTER | typeof BLACKHOLE_CLUSTER;

/** What a connection's upstream turned out to be, once the proxy chose it. */
interface Upstream {
  readonly plan: MeshPlan;
  readonly cluster: Cluster;
  readonly host: UpstreamHost | null;
}

/**
 * Makes the observer of one proxied connection: `downstream` is the client's socket at a
 * gateway, null for `mesh.connect` (the application is the downstream).
 */
export type TcpObserverFactory = (downstream: Socket | null) => TcpConnectionObserver;

/**
 * The TCP observers of a gateway or of `mesh.connect`: one `OutboundTelemetry` (its
 * per-endpoint peer labels cached) for every connection, reporting into the mesh's
 * telemetry as it is at the time.
 */
export function tcpObserverFactory(telemetry: MeshTelemetry, clock: Clock): TcpObserverFactory {
  const labels = new OutboundTelemetry(telemetry);
  return (downstream) => new TcpConnectionObserver(telemetry, labels, clock, downstream);
}

/** `ip:port` of a socket's end, null when it has none (closed before it was read). */
export function addressOf(address: string | undefined, port: number | undefined): string | null {
  return address === undefined || port === undefined ? null : hostPort(address, port);
}

/**
 * One proxied TCP connection's telemetry. Its `istio_tcp_*` metrics, as Istio's stats
 * filter reports a tcp_proxy connection on the client side (reporter `source`,
 * istio_stats.cc `reportHelper`): the labels are fixed at the first report, which also
 * counts the connection opened; every report adds the bytes since the previous one; the
 * last, when the connection closes, counts it closed. And its access log line when the
 * connection closes, as tcp_proxy's access log writes one (the CLIENT log, a gateway's
 * mode: istio model/telemetry.go): no request, so method, path and protocol print `-`
 * and the response code `0`.
 *
 * Istio makes its first report once the peer's metadata is known (TCP metadata
 * exchange) or, failing that, at close. meshlet reports every interval from the upstream's
 * connect on, with the peer's metadata from the exchange when its frame has come by the
 * first report (tcp-exchange.ts), else from the endpoint's registry entry (the stats
 * filter's own client-side fallback).
 */
export class TcpConnectionObserver {
  readonly #t: MeshTelemetry;
  readonly #labels: OutboundTelemetry;
  readonly #clock: Clock;
  /** The downstream's addresses, read while it is connected. */
  readonly #downstreamLocal: string | null;
  readonly #downstreamRemote: string | null;
  readonly #connection: object;
  readonly #startMs: number;
  readonly #startEpoch = Date.now();
  readonly #flags: ResponseFlag[] = [];
  #upstream: Upstream | null = null;
  /** Istio's PassthroughCluster or BlackHoleCluster, when the connection goes to one. */
  #special: {
    readonly cluster: SpecialCluster;
    readonly port: number;
    readonly address: string | null;
  } | null = null;
  /** The upstream's metadata, once its TCP metadata-exchange frame arrived. */
  #peerMetadata: PeerMetadata | null = null;
  #upstreamLocal: string | null = null;
  #failureReason: string | null = null;
  #serverName: string | null = null;
  /** False for a connection no filter chain took: Envoy logs it (`NR`) but no stats filter ran. */
  #metered = true;
  #mtls = false;
  #meter: TcpMeter = () => ({ received: 0, sent: 0 });
  readonly #reports: TcpReports;
  #closed = false;

  constructor(telemetry: MeshTelemetry, labels: OutboundTelemetry, clock: Clock, downstream: Socket | null) {
    this.#t = telemetry;
    this.#labels = labels;
    this.#clock = clock;
    this.#downstreamLocal = addressOf(downstream?.localAddress, downstream?.localPort);
    this.#downstreamRemote = addressOf(downstream?.remoteAddress, downstream?.remotePort);
    this.#connection = downstream ?? this;
    this.#startMs = clock.now();
    this.#reports = new TcpReports(
      () => telemetry.metrics,
      clock,
      () => this.#metricEvent(),
    );
  }

  /**
   * No filter chain takes the connection (no route for the port or SNI): only the
   * listener's access log hears of it, with `NR` (istiod's listener access log).
   */
  noRoute(): void {
    this.#metered = false;
    this.flag('NR');
  }

  /** The SNI the ClientHello named (`%REQUESTED_SERVER_NAME%`). */
  serverName(name: string | null): void {
    this.#serverName = name;
  }

  /** Why the upstream connection failed (`%UPSTREAM_TRANSPORT_FAILURE_REASON%`). */
  failed(reason: string | null): void {
    this.#failureReason = reason;
  }

  /** The cluster (and endpoint, when one was picked) the connection goes to. */
  routed(plan: MeshPlan, cluster: Cluster, host: UpstreamHost | null): void {
    this.#upstream = { plan, cluster, host };
  }

  /**
   * The connection goes to the PassthroughCluster (its original destination, `address`) or
   * the BlackHoleCluster: `destination_service` unknown, `destination_service_name` the
   * cluster's (Istio 1.3's passthrough and blackhole metrics).
   */
  special(cluster: SpecialCluster, port: number, address: string | null): void {
    this.#special = { cluster, port, address };
  }

  /** A response flag (`UH`, `UF`, `UO`, `NC`, `DT`), kept in Envoy's order. */
  flag(flag: ResponseFlag): void {
    addFlag(this.#flags, flag);
  }

  /** The upstream connection is up (`mtls`: Istio mTLS with the gateway's certificate). */
  connected(mtls: boolean, upstream: Socket): void {
    this.#mtls = mtls;
    this.#upstreamLocal = addressOf(upstream.localAddress, upstream.localPort);
    this.#reports.start();
  }

  /** Where the connection's bytes are read from when it reports. */
  meter(meter: TcpMeter): void {
    this.#meter = meter;
    this.#reports.meter(meter);
  }

  /** The upstream's metadata from the TCP metadata exchange (null: none came). */
  peerMetadata(m: PeerMetadata | null): void {
    this.#peerMetadata = m;
  }

  /** The connection closed: its last report. Once. */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The BlackHoleCluster makes no connection: closed is counted, opened is not.
    this.#reports.close(this.#metered, this.#special?.cluster !== BLACKHOLE_CLUSTER);
    const log = this.#t.accessLog.client;
    if (log.enabled) log.log(this.#entry());
  }

  /** The labels' event, fixed at the first report (istio_stats.cc evaluates TCP tags once). */
  #metricEvent(): MetricEvent {
    const special = this.#special;
    if (special !== null)
      return tcpEvent({
        reporter: 'source',
        source: this.#t.metrics.local,
        destination: UNKNOWN_PEER,
        destinationService: destinationServiceOf(null, { name: special.cluster }),
        port: special.port,
        flags: [...this.#flags],
        mtls: false,
      });
    const u = this.#upstream;
    const svc =
      u === null
        ? destinationServiceOf(null)
        : destinationServiceOf(
            u.cluster.host,
            withNamespace(u.plan.outbound.services[u.cluster.host]?.namespace),
          );
    return tcpEvent({
      reporter: 'source',
      source: this.#t.metrics.local,
      destination:
        u === null
          ? UNKNOWN_PEER
          : this.#labels.peerOf(u.host?.endpoint ?? null, u.plan, u.cluster.host, this.#peerMetadata),
      destinationService: svc,
      port: u?.cluster.port ?? 0,
      flags: [...this.#flags],
      mtls: this.#mtls,
    });
  }

  #entry(): AccessLogEntry {
    const u = this.#upstream;
    const bytes = this.#meter();
    return tcpEntry({
      startTime: this.#startEpoch,
      responseFlags: [...this.#flags],
      connectionTerminationDetails: null,
      upstreamTransportFailureReason: this.#failureReason,
      bytesReceived: bytes.received,
      bytesSent: bytes.sent,
      durationMs: this.#clock.now() - this.#startMs,
      upstreamHost:
        this.#special?.address ??
        (u?.host == null ? null : hostPort(u.host.endpoint.address, u.host.endpoint.port)),
      upstreamCluster: this.#special?.cluster ?? u?.cluster.key ?? null,
      upstreamLocalAddress: this.#upstreamLocal,
      downstreamLocalAddress: this.#downstreamLocal,
      downstreamRemoteAddress: this.#downstreamRemote,
      downstreamDirectRemoteAddress: this.#downstreamRemote,
      requestedServerName: this.#serverName,
      direction: 'OUTBOUND',
      connection: this.#connection,
    });
  }
}

const withNamespace = (ns: string | undefined) => (ns === undefined ? {} : { namespace: ns });
