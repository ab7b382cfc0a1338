import { CelMap, type CelValue } from './values.js';

/** Where an expression runs: the access-log filter (one log entry) or tagOverrides (one metric event). */
export type CelUse = 'accessLog' | 'metrics';

const BOTH: readonly CelUse[] = ['accessLog', 'metrics'];
const NONE: readonly CelUse[] = [];

/** The TLS fields `connection` (downstream) and `upstream` share (context.h). */
const TLS: Readonly<Record<string, readonly CelUse[]>> = {
  tls_version: BOTH,
  subject_local_certificate: BOTH,
  subject_peer_certificate: BOTH,
  uri_san_local_certificate: BOTH,
  uri_san_peer_certificate: BOTH,
  dns_san_local_certificate: BOTH,
  dns_san_peer_certificate: BOTH,
  sha256_peer_certificate_digest: BOTH,
  peer_certificate: BOTH,
};

/**
 * Envoy's attribute vocabulary (envoy docs intro/arch_overview/advanced/attributes;
 * source/extensions/filters/common/expr/context.h), with the uses meshlet can answer each
 * in. Both Envoy's CEL access-log filter and istio_stats read this same activation
 * (evaluator.cc StreamActivation::FindValue). A field not listed is CEL's "no such key"
 * at run time, as in Envoy; a listed field with no use here is one meshlet cannot read.
 */
export const ATTRIBUTES: Readonly<Record<string, Readonly<Record<string, readonly CelUse[]>>>> = {
  request: {
    path: BOTH,
    url_path: BOTH,
    host: BOTH,
    scheme: BOTH,
    method: BOTH,
    headers: BOTH,
    referer: BOTH,
    useragent: BOTH,
    id: BOTH,
    query: BOTH,
    time: BOTH,
    duration: BOTH,
    protocol: BOTH,
    size: BOTH,
    total_size: BOTH,
    headers_bytes: BOTH,
  },
  response: {
    code: BOTH,
    code_details: BOTH,
    flags: BOTH,
    grpc_status: BOTH,
    headers: BOTH,
    trailers: NONE,
    size: BOTH,
    total_size: BOTH,
    headers_bytes: BOTH,
    backend_latency: BOTH,
  },
  connection: {
    mtls: BOTH,
    requested_server_name: BOTH,
    id: BOTH,
    termination_details: BOTH,
    transport_failure_reason: BOTH,
    ...TLS,
  },
  upstream: {
    address: BOTH,
    port: BOTH,
    local_address: BOTH,
    transport_failure_reason: BOTH,
    request_attempt_count: BOTH,
    locality: BOTH,
    cx_pool_ready_duration: NONE,
    num_endpoints: BOTH,
    ...TLS,
  },
  source: { address: BOTH, port: BOTH },
  destination: { address: BOTH, port: BOTH },
  xds: {
    cluster_name: BOTH,
    route_name: BOTH,
    node: BOTH,
    cluster_metadata: BOTH,
    route_metadata: BOTH,
    virtual_host_name: BOTH,
    virtual_host_metadata: BOTH,
    upstream_host_metadata: BOTH,
    upstream_host_locality_metadata: BOTH,
    filter_chain_name: BOTH,
    listener_metadata: BOTH,
    listener_direction: BOTH,
  },
  // Istio's peer metadata (istio/proxy extensions/common/metadata_object.h DownstreamPeer,
  // UpstreamPeer; istio.io "Customizing Istio Metrics": `filter_state.upstream_peer.app`).
  // meshlet keeps no other filter state, nor dynamic metadata.
  filter_state: { downstream_peer: ['metrics'], upstream_peer: ['metrics'] },
  // Dynamic metadata (an envoy.config.core.v3.Metadata message): meshlet fills the
  // namespaces in FILLED_METADATA, read as `metadata.filter_metadata['<namespace>']`.
  metadata: { filter_metadata: BOTH },
  upstream_filter_state: {},
};

/** Roots whose whole value meshlet cannot provide (any read is reported). */
export const OPAQUE_ROOTS: ReadonlySet<string> = new Set(['upstream_filter_state']);

/** Roots whose unlisted fields are state meshlet does not keep (reported), not "no such key". */
export const CLOSED_ROOTS: ReadonlySet<string> = new Set(['filter_state', 'metadata']);

/**
 * The fields of a peer metadata object (metadata_object.cc serializeAsProto), true for
 * those meshlet answers from the peer's labels, false for those it does not know.
 */
export const PEER_FIELDS: Readonly<Record<string, boolean>> = {
  workload: true,
  namespace: true,
  cluster: true,
  service: true,
  revision: true,
  app: true,
  version: true,
  name: false,
  type: false,
  labels: false,
  identity: false,
  region: false,
  availability_zone: false,
};

/**
 * What one use provides: the value of `root.field`, or undefined when Envoy would find
 * nothing (no header map, no response code...), which CEL reports as "no such key".
 * Implementations compute a field only when asked.
 */
export interface Activation {
  field(root: string, name: string): CelValue | undefined;
}

/** An attribute root (`request`) read as a whole, e.g. `request['method']`. */
export class AttributeMap extends CelMap {
  constructor(
    private readonly root: string,
    private readonly activation: Activation,
  ) {
    super();
  }

  get(key: CelValue): CelValue | undefined {
    return typeof key === 'string' ? this.activation.field(this.root, key) : undefined;
  }

  // Envoy's wrappers report size 0 and no keys (context.h BaseWrapper).
  size(): number {
    return 0;
  }

  keys(): readonly CelValue[] {
    return [];
  }
}

type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-zA-Z:]+$/;

/** The pseudo-headers a header map answers (`:method`, `:path`...), computed when asked. */
export interface PseudoHeaders {
  readonly names: readonly string[];
  get(name: string): string | null | undefined;
}

const NO_PSEUDO: PseudoHeaders = { names: [], get: () => undefined };

/**
 * `request.headers` / `response.headers`: keys are matched lower-cased, repeated values
 * joined with `,` (context.h HeadersWrapper: getAllOfHeaderAsString), an invalid header
 * name finds nothing. `pseudo` answers `:method`, `:path`, `:authority`, `:scheme`,
 * `:status`. Envoy's HTTP/1 codec stores `Host` as `:authority`, so a map that answers
 * `:authority` has no `host` key.
 */
export class HeaderMap extends CelMap {
  constructor(
    private readonly headers: HeaderRecord,
    private readonly pseudo: PseudoHeaders = NO_PSEUDO,
  ) {
    super();
  }

  get(key: CelValue): CelValue | undefined {
    if (typeof key !== 'string' || !HEADER_NAME.test(key)) return undefined;
    const name = key.toLowerCase();
    if (name.charCodeAt(0) === 58 /* : */) {
      return this.pseudo.names.includes(name) ? (this.pseudo.get(name) ?? undefined) : undefined;
    }
    if (name === 'host' && this.pseudo.names.includes(':authority')) return undefined;
    const v = Object.hasOwn(this.headers, name) ? this.headers[name] : undefined;
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : v.join(',');
  }

  size(): number {
    return this.keys().length;
  }

  keys(): readonly CelValue[] {
    const hostIsPseudo = this.pseudo.names.includes(':authority');
    return [
      ...this.pseudo.names.filter((k) => this.pseudo.get(k) != null),
      ...Object.keys(this.headers).filter(
        (k) => this.headers[k] !== undefined && !(hostIsPseudo && k === 'host'),
      ),
    ];
  }
}
