import { UNKNOWN, type PeerLabels } from '../peer-labels.js';
import type { DestinationService, MetricEvent } from './metric-event.js';

/**
 * The HTTP labels of Istio's standard metrics, in the order the stats filter emits
 * them (istio/proxy `testdata/metric/client_request_total.yaml.tmpl`).
 */
export const ISTIO_HTTP_LABELS = Object.freeze([
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const);

export type IstioLabelName = (typeof ISTIO_HTTP_LABELS)[number];
export type LabelSet = Readonly<Record<string, string>>;

/** `response_flags`: comma-joined, `-` when none (Envoy's ResponseFlagUtils::toShortString). */
export function responseFlagsLabel(flags: readonly string[]): string {
  return flags.length === 0 ? '-' : flags.join(',');
}

/**
 * `connection_security_policy`: on the server `mutual_tls` when both sides had a SAN,
 * otherwise `none`; the client always reports `unknown` (istio_stats.cc).
 */
export function securityPolicyLabel(event: Pick<MetricEvent, 'reporter' | 'mtls'>): string {
  if (event.reporter === 'source') return 'unknown';
  return event.mtls ? 'mutual_tls' : 'none';
}

/**
 * The standard label set of one event, in Istio's order. The principals are the URI SANs
 * of the request's connection (istio_stats.cc populatePeerInfo): the local one only over
 * mTLS, and on the client the peer's too; the server's peer is already `unknown` without
 * a certificate. A plaintext request reads `unknown` for both (istio/proxy
 * testdata/metric/client_request_total.yaml.tmpl, server_request_total.yaml.tmpl).
 */
export function istioLabels(event: MetricEvent): LabelSet {
  const client = event.reporter === 'source';
  const svc = event.destinationService;
  return buildLabels(
    event.reporter,
    event.source,
    client && !event.mtls ? UNKNOWN : event.source.principal,
    event.destination,
    event.mtls ? event.destination.principal : UNKNOWN,
    svc,
    // The client's namespace without service metadata is the peer's (istio_stats.cc
    // ClientSidecar branch; host_header_fallback.yaml.tmpl).
    client && svc.namespace === UNKNOWN ? event.destination.namespace : svc.namespace,
    variantOf(event),
  );
}

/**
 * The labels of the TCP metrics: the HTTP set without `response_code` and
 * `grpc_response_status`, `request_protocol` `tcp` (istio/proxy
 * testdata/metric/tcp_client_connection_open.yaml.tmpl).
 */
export function istioTcpLabels(event: MetricEvent): LabelSet {
  return withoutHttpOnlyLabels(istioLabels(event));
}

/** An HTTP label set without `response_code` and `grpc_response_status`: the TCP metrics' set. */
export function withoutHttpOnlyLabels(all: LabelSet): LabelSet {
  const out: Record<string, string> = {};
  for (const k in all) if (k !== 'response_code' && k !== 'grpc_response_status') out[k] = all[k] as string;
  return Object.freeze(out);
}

interface Variant {
  readonly protocol: string;
  readonly code: string;
  readonly grpc: string;
  readonly flags: string;
  readonly security: string;
}

function variantOf(event: MetricEvent): Variant {
  return {
    protocol: event.protocol,
    code: String(event.status),
    grpc:
      event.protocol === 'grpc' && event.grpcStatus !== undefined && event.grpcStatus !== null
        ? String(event.grpcStatus)
        : '',
    flags: responseFlagsLabel(event.flags),
    security: securityPolicyLabel(event),
  };
}

function buildLabels(
  reporter: string,
  s: PeerLabels,
  sourcePrincipal: string,
  d: PeerLabels,
  destinationPrincipal: string,
  svc: DestinationService,
  serviceNamespace: string,
  v: Variant,
): LabelSet {
  return Object.freeze({
    reporter,
    source_workload: s.workload,
    source_canonical_service: s.canonicalService,
    source_canonical_revision: s.canonicalRevision,
    source_workload_namespace: s.namespace,
    source_principal: sourcePrincipal,
    source_app: s.app,
    source_version: s.version,
    source_cluster: s.cluster,
    destination_workload: d.workload,
    destination_workload_namespace: d.namespace,
    destination_principal: destinationPrincipal,
    destination_app: d.app,
    destination_version: d.version,
    destination_service: svc.host,
    destination_canonical_service: d.canonicalService,
    destination_canonical_revision: d.canonicalRevision,
    destination_service_name: svc.name,
    destination_service_namespace: serviceNamespace,
    destination_cluster: d.cluster,
    request_protocol: v.protocol,
    response_code: v.code,
    grpc_response_status: v.grpc,
    response_flags: v.flags,
    connection_security_policy: v.security,
  });
}

/** The per-response part of a label set's key, remembered with the labels it gave. */
interface LastOutcome {
  readonly reporter: string;
  readonly protocol: string;
  readonly status: number;
  readonly grpcStatus: MetricEvent['grpcStatus'];
  readonly flags: string;
  readonly mtls: boolean;
  readonly labels: LabelSet;
}

/** The outcomes of one (source, destination, service) triple. */
interface PairOutcomes {
  readonly byKey: Map<string, LabelSet>;
  /** The last outcome: most calls repeat it, and comparing fields is cheaper than a string key. */
  last: LastOutcome | null;
}

/** `response_flags` without a join for the common zero or one flag. */
function flagsKey(flags: readonly string[]): string {
  return flags.length === 0 ? '-' : flags.length === 1 ? (flags[0] as string) : flags.join(',');
}

/**
 * A cache of standard label sets keyed by (source, destination, service) object
 * identity and then by the per-response part (protocol, code, grpc status, flags,
 * security). A steady stream of requests between the same pair reuses one frozen
 * object per distinct outcome: no per-call label object churn.
 */
export class LabelCache {
  readonly #pairs = new WeakMap<PeerLabels, WeakMap<PeerLabels, WeakMap<DestinationService, PairOutcomes>>>();
  /** Bound on distinct outcomes per pair, so unusual status codes cannot grow it without end. */
  readonly #maxPerPair: number;

  constructor(maxPerPair = 256) {
    this.#maxPerPair = maxPerPair;
  }

  /** The outcomes of the last triple: most requests repeat it, skipping three WeakMap lookups. */
  #lastSource: PeerLabels | null = null;
  #lastDestination: PeerLabels | null = null;
  #lastService: DestinationService | null = null;
  #lastOutcomes: PairOutcomes | null = null;

  labels(event: MetricEvent): LabelSet {
    let outcomes =
      event.source === this.#lastSource &&
      event.destination === this.#lastDestination &&
      event.destinationService === this.#lastService
        ? this.#lastOutcomes
        : null;
    if (outcomes === null) {
      outcomes = this.#outcomesOf(event);
      this.#lastSource = event.source;
      this.#lastDestination = event.destination;
      this.#lastService = event.destinationService;
      this.#lastOutcomes = outcomes;
    }
    return this.#labelsIn(outcomes, event);
  }

  #outcomesOf(event: MetricEvent): PairOutcomes {
    let byDest = this.#pairs.get(event.source);
    if (byDest === undefined) {
      byDest = new WeakMap();
      this.#pairs.set(event.source, byDest);
    }
    let bySvc = byDest.get(event.destination);
    if (bySvc === undefined) {
      bySvc = new WeakMap();
      byDest.set(event.destination, bySvc);
    }
    let outcomes = bySvc.get(event.destinationService);
    if (outcomes === undefined) {
      outcomes = { byKey: new Map(), last: null };
      bySvc.set(event.destinationService, outcomes);
    }
    return outcomes;
  }

  #labelsIn(outcomes: PairOutcomes, event: MetricEvent): LabelSet {
    const flags = flagsKey(event.flags);
    const last = outcomes.last;
    if (
      last !== null &&
      last.status === event.status &&
      last.flags === flags &&
      last.reporter === event.reporter &&
      last.protocol === event.protocol &&
      last.grpcStatus === event.grpcStatus &&
      last.mtls === event.mtls
    ) {
      return last.labels;
    }
    const key = `${event.reporter}|${event.protocol}|${event.status}|${event.grpcStatus ?? ''}|${flags}|${event.mtls ? 1 : 0}`;
    let labels = outcomes.byKey.get(key);
    if (labels === undefined) {
      labels = istioLabels(event);
      if (outcomes.byKey.size < this.#maxPerPair) outcomes.byKey.set(key, labels);
    }
    outcomes.last = {
      reporter: event.reporter,
      protocol: event.protocol,
      status: event.status,
      grpcStatus: event.grpcStatus,
      flags,
      mtls: event.mtls,
      labels,
    };
    return labels;
  }
}
