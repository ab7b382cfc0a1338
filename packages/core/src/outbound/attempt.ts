import type { Readable } from 'node:stream';
import type { Cluster } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Transport, TransportRequest, TransportResponse, TransportTls } from './transport.js';
import { TransportError } from './transport.js';
import type {
  Admission,
  AttemptOutcome,
  PoolTicket,
  UpstreamCluster,
  UpstreamHost,
} from './upstream/types.js';
import { copyHeaders, headerValue, type HeaderRecord } from './request-input.js';
import type { TryOutcome } from './retry-on.js';
import { bodyStreamError } from './request-body.js';
import { PER_TRY_TIMEOUT, ROUTE_TIMEOUT, TryTimer, deadlineScope, raceSignal } from './timeouts.js';

/** What one try sends. */
export interface TryRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderRecord;
  readonly body: Buffer | Readable | null;
  /** An upgrade request's `Upgrade` token (TransportRequest.upgrade); absent for others. */
  readonly upgrade?: string;
}

/** How one try ended. */
export type TryResult =
  | { readonly kind: 'no-host' }
  | { readonly kind: 'overflow' }
  | {
      readonly kind: 'response';
      readonly host: UpstreamHost;
      readonly response: TransportResponse;
      readonly outcome: TryOutcome;
      /** The TLS the try's connection used; null for plaintext. */
      readonly tls: TransportTls | null;
    }
  | {
      readonly kind: 'failure';
      readonly host: UpstreamHost;
      readonly outcome: TryOutcome & { kind: 'failure' };
    };

/** Everything a try needs besides the request. */
export interface TryContext {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly cluster: Cluster;
  readonly upstream: UpstreamCluster;
  readonly tlsFor: ((cluster: Cluster, host: UpstreamHost, authority?: string) => TransportTls | null) | null;
  /** The caller's signal (its abort or own timeout); null when the call has neither. */
  readonly callerSignal: AbortSignal | null;
  /** When the route `timeout` ends, in `clock.now()` terms; null when the route has none. */
  readonly deadline: number | null;
  /** The route `timeout` itself (ms), for the error a body cut short by it fails with. */
  readonly timeoutMs?: number | null;
  readonly perTryMs: number | null;
  /** Gets the try number once the try is admitted and goes to the transport (`res.meshlet.attempts`). */
  readonly state: { attempts: number } | null;
  /**
   * Whether the try carries `x-envoy-attempt-count` (Istio sets `include_request_attempt_count`
   * on its route virtual hosts; an extension provider's async client has none). Default true.
   */
  readonly countAttempts?: boolean;
}

/** The DestinationRule pool limits a transport applies, built once per plan cluster. */
const poolLimits = new WeakMap<Cluster, TransportRequest['pool']>();

function poolOf(cluster: Cluster): TransportRequest['pool'] {
  let p = poolLimits.get(cluster);
  if (p === undefined) {
    const cp = cluster.policy.connectionPool;
    p = Object.freeze({
      maxConnections: cp.tcp.maxConnections,
      maxRequestsPerConnection: cp.http.maxRequestsPerConnection,
      idleTimeoutMs: cp.http.idleTimeoutMs,
      ...(cp.tcp.maxConnectionDurationMs === null
        ? {}
        : { maxConnectionDurationMs: cp.tcp.maxConnectionDurationMs }),
      ...(cp.tcp.keepaliveTimeMs === null ? {} : { keepaliveTimeMs: cp.tcp.keepaliveTimeMs }),
    });
    poolLimits.set(cluster, p);
  }
  return p;
}

const LOCAL_FAILURE: Readonly<Record<string, 'connect-failure' | 'connect-timeout' | 'reset'>> = {
  'connect-failure': 'connect-failure',
  'connect-timeout': 'connect-timeout',
  tls: 'connect-failure',
  reset: 'reset',
  protocol: 'reset',
  aborted: 'reset',
};

const EXPECTED_TIMEOUT = 'x-envoy-expected-rq-timeout-ms';

/**
 * A retry's `x-envoy-expected-rq-timeout-ms` (envoy router.cc `doRetry` →
 * `FilterUtility::setTimeoutHeaders`): the per-try timeout (else the route timeout),
 * capped by what is left of the route timeout, 1 when none is left. The first try's
 * value is set with the route (route-request.ts `callTimeouts`), and a retry only
 * exists when that header was set, so one of `perTryMs` and `deadline` is not null.
 */
function expectedTimeoutMs(perTryMs: number | null, deadline: number | null, now: number): number {
  if (deadline === null) return perTryMs ?? 0;
  const left = Math.max(1, Math.ceil(deadline - now));
  return perTryMs === null ? left : Math.min(perTryMs, left);
}

/** Each host's URLs by path (`https ` before an https one's): no string built to look one up. */
const urls = new WeakMap<UpstreamHost, Map<string, URL>>();
const MAX_URLS_PER_HOST = 256;

/**
 * The URL a try sends to. Tries to the same host and path share one URL object; the
 * transports only read it (`TransportRequest.url` is readonly).
 */
function hostUrl(scheme: 'http' | 'https', host: UpstreamHost, path: string): URL {
  let byPath = urls.get(host);
  if (byPath === undefined) {
    byPath = new Map();
    urls.set(host, byPath);
  }
  const key = scheme === 'http' ? path : `https ${path}`;
  let url = byPath.get(key);
  if (url === undefined) {
    const a = host.endpoint.address;
    url = new URL(`${scheme}://${a.includes(':') ? `[${a}]` : a}:${host.endpoint.port}${path}`);
    if (byPath.size >= MAX_URLS_PER_HOST) byPath.clear();
    byPath.set(key, url);
  }
  return url;
}

/**
 * Holds the pool ticket and the busy mark until the response body is done with: read
 * to the end, or destroyed. Plain events rather than `stream.finished`, which builds an
 * `ERR_STREAM_PREMATURE_CLOSE` error (a stack trace) for every discarded body, and plain
 * `on` listeners rather than `once` wrappers (a closure each): `done` is called again by
 * the `close` that follows `end`, and must tolerate it.
 */
export function whenBodyDone(body: Readable, done: () => void): void {
  if (body.destroyed || body.readableEnded) {
    done();
    return;
  }
  body.on('end', done);
  body.on('close', done);
  body.on('error', done);
}

/** An upgrade through a transport that can carry one; a local failure otherwise. */
function sendUpgrade(transport: Transport, req: TransportRequest): Promise<TransportResponse> {
  if (transport.upgrade === undefined)
    return Promise.reject(
      new TransportError('protocol', `the ${transport.name} transport carries no HTTP upgrade`, true),
    );
  return transport.upgrade(req);
}

const releaseLate = (late: Admission): void => {
  if (late.ok) late.ticket.release();
};

/**
 * The slow path of pool admission: the request queues. Only the route timeout and the
 * caller bound the wait; the per-try timeout starts once the try is admitted.
 */
async function queuedAdmission(ctx: TryContext): Promise<Admission> {
  const left = ctx.deadline === null ? null : ctx.deadline - ctx.clock.now();
  const scope = deadlineScope(ctx.callerSignal, left, ROUTE_TIMEOUT, ctx.clock);
  try {
    return await raceSignal(ctx.upstream.admit(scope.signal), scope.signal, releaseLate);
  } finally {
    scope.dispose();
  }
}

/**
 * One try on one picked host, in Envoy's order below the retry loop: pool admission
 * (overflow is a local `503 UO`, never counted by outlier detection), the transport
 * call under the try's deadlines, and the outcome fed to outlier detection (a per-try or
 * route timeout before the headers counts as a local-origin timeout, spec/traffic.md §2-3).
 * Throws the abort reason for the route timeout or the caller's abort.
 *
 * The try runs under one signal: the caller's own when there is no deadline (nothing
 * allocated), else a {@link TryTimer}: one timer at a time (and an AbortController only
 * for a transport that does not `listensToAbort`), the
 * per-try timeout starting when the transport has a connection, the route timeout
 * going on over the response body (DESIGN.md performance targets).
 */
export async function runTry(
  ctx: TryContext,
  host: UpstreamHost,
  req: TryRequest,
  attempt: number,
  startedAt: number = ctx.clock.now(),
): Promise<TryResult> {
  const { upstream, cluster, clock, callerSignal, deadline } = ctx;
  if (callerSignal !== null && callerSignal.aborted) throw callerSignal.reason;
  if (deadline !== null && startedAt >= deadline) throw ROUTE_TIMEOUT;
  const admitted = upstream.tryAdmit?.() ?? null;
  const admission = admitted ?? (await queuedAdmission(ctx));
  if (!admission.ok) return { kind: 'overflow' };
  const ticket: PoolTicket = admission.ticket;
  // Admitted at once, no time passed since `startedAt`; a queued try reads the clock again.
  const now = admitted === null ? clock.now() : startedAt;
  if (deadline !== null && deadline - now <= 0) {
    ticket.release();
    throw ROUTE_TIMEOUT;
  }
  const perTryMs = ctx.perTryMs;
  const timer =
    deadline === null && perTryMs === null
      ? null
      : new TryTimer(
          callerSignal,
          clock,
          deadline,
          ctx.timeoutMs ?? null,
          perTryMs,
          ctx.transport.signalsPoolReady === true,
          now,
        );
  const idle = upstream.begin(host);
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    idle();
    ticket.release();
    timer?.dispose();
  };
  const headers = copyHeaders(req.headers);
  if (ctx.countAttempts !== false) headers['x-envoy-attempt-count'] = String(attempt);
  if (attempt > 1 && headers[EXPECTED_TIMEOUT] !== undefined) {
    headers[EXPECTED_TIMEOUT] = String(expectedTimeoutMs(ctx.perTryMs, deadline, startedAt));
  }
  if (ctx.state !== null) ctx.state.attempts = attempt;
  try {
    // A TLS context that cannot be built (a credential not mounted) fails the try as a
    // connection failure (TransportError), as Envoy's not-ready TLS socket does.
    const tls = ctx.tlsFor === null ? null : ctx.tlsFor(cluster, host, headerValue(req.headers, 'host'));
    const treq: TransportRequest = {
      url: hostUrl(tls === null ? 'http' : 'https', host, req.path),
      method: req.method,
      headers,
      body: req.body,
      signal: timer === null ? callerSignal : ctx.transport.listensToAbort === true ? null : timer.signal,
      abort: timer,
      connectTimeoutMs: cluster.policy.connectionPool.tcp.connectTimeoutMs,
      // Only a per-try timeout waits for the connection (a transport may pay for telling).
      onPoolReady: perTryMs === null ? null : timer,
      tls,
      // The SNI is part of the key: Envoy's auto_sni pools connections per name too.
      poolKey:
        tls?.servername == null ? `${cluster.key}|${host.id}` : `${cluster.key}|${host.id}|${tls.servername}`,
      pool: poolOf(cluster),
      upgrade: req.upgrade,
    };
    const response = await (req.upgrade === undefined
      ? ctx.transport.request(treq)
      : sendUpgrade(ctx.transport, treq));
    upstream.record(host, { kind: 'response', status: response.status });
    const upgraded = response.upgraded;
    if (upgraded === undefined) {
      timer?.responded(response.body);
      whenBodyDone(response.body, release);
    } else {
      // The route timeout ends with the upgrade's 101 (envoy upstream_request.cc, "route
      // timeout for HTTP upgrade", envoyproxy/envoy#41075); the connection holds its pool
      // slot for as long as it is open.
      timer?.dispose();
      upgraded.socket.once('close', release);
    }
    return {
      kind: 'response',
      host,
      response,
      outcome: { kind: 'response', status: response.status, headers: response.headers },
      tls,
    };
  } catch (err) {
    release();
    const aborted = timer === null ? callerSignal : timer;
    if (aborted !== null && aborted.aborted) {
      const reason: unknown = aborted.reason;
      if (reason === PER_TRY_TIMEOUT || reason === ROUTE_TIMEOUT) {
        upstream.record(host, { kind: 'local-failure', failure: 'timeout' });
      }
      if (reason === PER_TRY_TIMEOUT) {
        return {
          kind: 'failure',
          host,
          outcome: { kind: 'failure', failure: 'per-try-timeout', beforeRequestSent: false },
        };
      }
      throw reason;
    }
    if (req.body !== null && !Buffer.isBuffer(req.body)) {
      const bodyErr = bodyStreamError(req.body, err);
      if (bodyErr !== null) throw bodyErr;
    }
    const te = err instanceof TransportError ? err : null;
    const failure = te?.failure ?? 'reset';
    const outcome: AttemptOutcome = { kind: 'local-failure', failure: LOCAL_FAILURE[failure] ?? 'reset' };
    upstream.record(host, outcome);
    return {
      kind: 'failure',
      host,
      outcome: {
        kind: 'failure',
        failure: failure === 'aborted' ? 'reset' : failure,
        beforeRequestSent: te?.beforeRequestSent ?? false,
        transportFailureReason: te?.transportFailureReason ?? null,
      },
    };
  }
}
