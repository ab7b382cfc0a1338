import type { RetryPolicy } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import type { TransportResponse } from './transport.js';
import type { HashKey } from './upstream/hash.js';
import type { UpstreamCluster, UpstreamHost } from './upstream/types.js';
import type { CallState } from './call-state.js';
import { runTry, type TryContext, type TryRequest, type TryResult } from './attempt.js';
import { wouldRetry } from './retry-on.js';
import { backoffMs } from './backoff.js';
import { addFlag } from './flags.js';
import { ROUTE_TIMEOUT } from './timeouts.js';
import {
  noHealthyUpstream,
  overflow,
  transportFailureReply,
  perTryTimeout,
  upstreamTimeout,
  type LocalReply,
} from './local-reply.js';

/** What the router stage produced: an upstream response or a local reply. */
export type RouterResult =
  | { readonly kind: 'upstream'; readonly host: UpstreamHost; readonly response: TransportResponse }
  | { readonly kind: 'local'; readonly reply: LocalReply };

/** The router stage's inputs for one call. */
export interface RouterCall {
  readonly state: CallState;
  readonly clock: Clock;
  readonly random: Random;
  /** null = no retries (`attempts: 0`, or a body that cannot be replayed). */
  readonly policy: RetryPolicy | null;
  /** Route timeout in ms (after `x-envoy-upstream-rq-timeout-ms`); null = none. */
  readonly timeoutMs: number | null;
  readonly perTryMs: number | null;
  readonly hashKey: HashKey;
  readonly callerSignal: AbortSignal | null;
  /** When the call started (`clock.now()` terms), if the caller read it; else read here. */
  readonly startedAt?: number;
  readonly request: TryRequest;
  readonly tryContext: Omit<TryContext, 'callerSignal' | 'deadline' | 'perTryMs' | 'state'>;
}

const NO_HOSTS: ReadonlySet<string> = new Set();

/** A host, avoiding tried ones when the previous-hosts predicate is on; a tried one if nothing else is left. */
function pickHost(
  upstream: UpstreamCluster,
  tried: Set<string> | null,
  hashKey: HashKey,
): UpstreamHost | null {
  if (tried === null || tried.size === 0) return upstream.pick({ exclude: NO_HOSTS, hashKey });
  return upstream.pick({ exclude: tried, hashKey }) ?? upstream.pick({ exclude: NO_HOSTS, hashKey });
}

function finish(r: Exclude<TryResult, { kind: 'no-host' | 'overflow' }>): RouterResult {
  if (r.kind === 'response') return { kind: 'upstream', host: r.host, response: r.response };
  const f = r.outcome.failure;
  return {
    kind: 'local',
    reply:
      f === 'per-try-timeout'
        ? perTryTimeout()
        : transportFailureReply(f, r.outcome.transportFailureReason ?? null),
  };
}

/**
 * Envoy's router (router.cc, retry_state_impl.cc; spec/traffic.md §3) over one
 * cluster: the route timeout bounds every try and backoff (`504 UT`, never retried),
 * then the response body (which it fails: the headers are sent); each try picks a host
 * (previous-hosts avoided), is admitted by the pool and runs under its per-try timeout
 * once it has a connection; then would-retry? → none left ⇒ `URX` → retry breaker/budget
 * full ⇒ `UO` → full-jitter backoff → retry. Failure returns the last upstream response
 * or the local error reply. Discarded response bodies are destroyed.
 */
export async function runRouter(call: RouterCall): Promise<RouterResult> {
  const { state, policy, clock, tryContext } = call;
  const upstream = tryContext.upstream;
  const caller = call.callerSignal;
  // The route timeout is a number, not a timer: each try arms its own timer for what is
  // left of it, or its perTryTimeout once connected (attempt.ts, TryTimer), and a backoff
  // stops at it. The answering try's timer goes on over the response body.
  const startedAt = call.startedAt ?? clock.now();
  const deadline = call.timeoutMs === null ? null : startedAt + call.timeoutMs;
  const ctx: TryContext = {
    transport: tryContext.transport,
    clock,
    cluster: tryContext.cluster,
    upstream,
    tlsFor: tryContext.tlsFor,
    countAttempts: tryContext.countAttempts ?? true,
    callerSignal: caller,
    deadline,
    timeoutMs: call.timeoutMs,
    perTryMs: call.perTryMs,
    state,
  };
  // Whether the previous-hosts predicate applies was decided at compile time, as Istio
  // does (retry.go ConvertPolicy; compile/outbound.ts withHashRetries).
  const avoidTried = policy !== null && policy.previousHosts;
  let tried: Set<string> | null = null;
  let retriesLeft = policy?.retries ?? 0;
  let retry = 0;
  let tries = 0;
  let retryTicket: { release(): void } | null = null;
  try {
    for (;;) {
      const host = pickHost(upstream, tried, call.hashKey);
      if (host === null) return { kind: 'local', reply: noHealthyUpstream() };
      const observer = state.observer;
      // The first try starts with the call: one clock read less per call.
      const t0 = tries === 0 ? startedAt : clock.now();
      const r = await runTry(ctx, host, call.request, ++tries, t0);
      if (observer !== null) observer.attempt(tries, r, clock.now() - t0);
      retryTicket?.release();
      retryTicket = null;
      if (r.kind === 'overflow') return { kind: 'local', reply: overflow() };
      if (r.kind === 'no-host') return { kind: 'local', reply: noHealthyUpstream() };
      if (policy === null || !wouldRetry(policy, r.outcome)) return finish(r);
      if (avoidTried) (tried ??= new Set()).add(host.id);
      if (retriesLeft === 0) {
        addFlag(state.flags, 'URX');
        return finish(r);
      }
      retriesLeft--;
      retry++;
      const admitted = upstream.admitRetry();
      if (!admitted.ok) {
        addFlag(state.flags, 'UO');
        return finish(r);
      }
      retryTicket = admitted;
      if (r.kind === 'response') r.response.body.destroy();
      const wait = backoffMs(retry, policy.backoffBaseMs, policy.backoffMaxMs, call.random);
      const left = deadline === null ? Infinity : deadline - clock.now();
      if (wait < left) {
        await clock.sleep(wait, caller ?? undefined);
        continue;
      }
      // The route timeout ends during the backoff (a tie included: its timer came first).
      await clock.sleep(Math.max(0, left), caller ?? undefined);
      return { kind: 'local', reply: upstreamTimeout() };
    }
  } catch (err) {
    if (err === ROUTE_TIMEOUT) return { kind: 'local', reply: upstreamTimeout() };
    throw err;
  } finally {
    retryTicket?.release();
  }
}
