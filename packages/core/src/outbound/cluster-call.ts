import type { Readable } from 'node:stream';
import type { Cluster, MeshPlan } from '../compile/plan-types.js';
import { clusterKey } from '../compile/clusters.js';
import type { TransportTls } from './transport.js';
import type { HeaderRecord, Target } from './request-input.js';
import { upstreamFor, type PipelineDeps } from './pipeline.js';
import { hostPort } from './upstream/host-state.js';
import { newCallState } from './call-state.js';
import { hashKeyOf } from './hash-key.js';
import { sourceAddress } from './source-address.js';
import { runRouter } from './router.js';
import { sendDirect } from './passthrough.js';
import type { AttemptOutcome } from './upstream/types.js';

/** A request to one service port, as an extension provider's client sends it. */
export interface ClusterRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** Lower-case names; `host` is the authority the service sees. */
  readonly headers: HeaderRecord;
  readonly body: Buffer | null;
  readonly signal: AbortSignal | null;
}

/** The service's answer, or why there was none (a local reply in Envoy: `503 UF`, `UH`, ...). */
export type ClusterResponse =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Readonly<HeaderRecord>;
      readonly body: Readable;
    }
  | { readonly kind: 'failure'; readonly reason: string };

/**
 * An endpoint of the cluster and the client TLS to reach it with, for one gRPC call: the
 * call holds a place in the cluster's pool (as an HTTP/2 stream) until `done`.
 */
export interface ClusterEndpoint {
  /** `ip:port` or `host:port` (an IPv6 address in brackets). */
  readonly address: string;
  /** DestinationRule TLS or auto mTLS for this endpoint; null = plaintext. */
  readonly tls: TransportTls | null;
  /** The cluster name (`outbound|<port>||<host>`), or null when the registry has no such service. */
  readonly cluster: string | null;
  /**
   * The call ended: gives back its place in the pool and tells outlier detection how it
   * went (an HTTP status, a gRPC status mapped by `grpcToHttpStatus`, or a local
   * failure); null when the call was never sent. Later calls do nothing.
   */
  done(outcome: AttemptOutcome | null): void;
}

/**
 * Calls to a service port's outbound cluster `outbound|<port>||<host>`, the way the
 * sidecar's async client reaches the cluster istiod names for an extension provider
 * (ext_authz: pilot/pkg/model/telemetry_logging.go LookupCluster). The cluster's
 * DestinationRule policy applies: TLS (auto mTLS when the rule sets none), load balancing,
 * the connection pool and outlier detection. No VirtualService route, retry, fault or
 * timeout applies, and nothing is reported as `istio_*` traffic: the sidecar's stats filter
 * sees only its listeners' requests. A host the registry does not know is reached directly,
 * by DNS and in plaintext (istiod would refuse the provider; meshlet keeps it usable).
 * `endpoint` serves a gRPC client that dials by itself: it takes the cluster's load
 * balancing, TLS, outlier detection and pool, where the call is an HTTP/2 stream that
 * only `http2MaxRequests` limits (overflow: `503 UO`, as the sidecar's pool answers).
 */
export interface ClusterCaller {
  request(host: string, port: number, req: ClusterRequest): Promise<ClusterResponse>;
  endpoint(host: string, port: number, signal: AbortSignal | null): Promise<ClusterEndpoint>;
}

const NO_HOSTS: ReadonlySet<string> = new Set();
const NOTHING_TO_RELEASE = (): void => {};

/** The service's address; `authority` is what its Host header carries. */
function directTarget(host: string, port: number, path: string, authority: string | undefined): Target {
  const address = hostPort(host, port);
  return {
    url: new URL(`http://${address}${path}`),
    scheme: 'http',
    hostname: host,
    port,
    authority: authority ?? address,
    path,
  };
}

export function createClusterCaller(deps: PipelineDeps, getPlan: () => MeshPlan): ClusterCaller {
  const clusterOf = (plan: MeshPlan, host: string, port: number): Cluster | null =>
    plan.outbound.cluster(clusterKey(host, port, null));

  return Object.freeze({
    async request(host: string, port: number, req: ClusterRequest): Promise<ClusterResponse> {
      const plan = getPlan();
      const cluster = clusterOf(plan, host, port);
      const state = newCallState();
      if (cluster === null) {
        const authority = req.headers['host'];
        const target = directTarget(
          host,
          port,
          req.path,
          typeof authority === 'string' ? authority : undefined,
        );
        const r = await sendDirect(
          deps.transport,
          state,
          target,
          `outbound|${port}||${host}`,
          req.method,
          { ...req.headers },
          req.body,
          req.signal,
        );
        if (r.kind === 'local')
          return { kind: 'failure', reason: `${r.reply.status} ${r.reply.flag ?? ''}`.trim() };
        return { kind: 'response', status: r.status, headers: r.headers, body: r.body };
      }
      if (cluster.status !== 'ok') return { kind: 'failure', reason: `503 NC (${cluster.key} has no hosts)` };
      const upstream = await upstreamFor(deps, plan, cluster, req.signal);
      const r = await runRouter({
        state,
        clock: deps.clock,
        random: deps.random,
        policy: null,
        timeoutMs: null,
        perTryMs: null,
        hashKey:
          cluster.policy.loadBalancer.consistentHash === null
            ? null
            : hashKeyOf(cluster.policy.loadBalancer.consistentHash, req.headers, req.path, () =>
                sourceAddress(plan.workload),
              ),
        callerSignal: req.signal,
        request: { method: req.method, path: req.path, headers: req.headers, body: req.body },
        tryContext: {
          transport: deps.transport,
          clock: deps.clock,
          cluster,
          upstream,
          tlsFor: deps.tlsFor,
          countAttempts: false,
        },
      });
      if (r.kind === 'local')
        return {
          kind: 'failure',
          reason: `${r.reply.status} ${r.reply.flag ?? ''} via ${cluster.key}: ${r.reply.body.toString('utf8')}`,
        };
      return {
        kind: 'response',
        status: r.response.status,
        headers: r.response.headers,
        body: r.response.body,
      };
    },

    async endpoint(host: string, port: number, signal: AbortSignal | null): Promise<ClusterEndpoint> {
      const plan = getPlan();
      const cluster = clusterOf(plan, host, port);
      if (cluster === null)
        return { address: hostPort(host, port), tls: null, cluster: null, done: NOTHING_TO_RELEASE };
      if (cluster.status !== 'ok') throw new Error(`503 NC (${cluster.key} has no hosts)`);
      const upstream = await upstreamFor(deps, plan, cluster, signal);
      const picked = upstream.pick({ exclude: NO_HOSTS, hashKey: null });
      if (picked === null) throw new Error(`503 UH: no healthy upstream in ${cluster.key}`);
      const admission = upstream.admitStream?.() ?? upstream.tryAdmit?.() ?? (await upstream.admit(signal));
      if (!admission.ok) throw new Error(`503 UO: ${cluster.key} overflowed (${admission.reason})`);
      const idle = upstream.begin(picked);
      let ended = false;
      return {
        address: picked.id,
        tls: deps.tlsFor === null ? null : deps.tlsFor(cluster, picked),
        cluster: cluster.key,
        done: (outcome: AttemptOutcome | null) => {
          if (ended) return;
          ended = true;
          if (outcome !== null) upstream.record(picked, outcome);
          idle();
          admission.ticket.release();
        },
      };
    },
  });
}
