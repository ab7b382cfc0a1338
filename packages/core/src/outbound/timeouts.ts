import type { Readable } from 'node:stream';
import type { Clock } from '../runtime/clock.js';
import { MeshletError, isMeshletError } from '../errors/meshlet-error.js';
import type { PoolReadyListener, TryAbort } from './transport.js';

/**
 * The abort reason of a mesh deadline: the route `timeout` (`504 UT`, never
 * retried) or a `perTryTimeout` (the try is reset; retried under 5xx/gateway-error/reset).
 */
export class DeadlineReason extends Error {
  readonly deadline: 'route' | 'per-try';
  constructor(deadline: 'route' | 'per-try') {
    super(deadline === 'route' ? 'upstream request timeout' : 'upstream per-try timeout');
    this.name = 'DeadlineReason';
    this.deadline = deadline;
  }
}

export const ROUTE_TIMEOUT = new DeadlineReason('route');
export const PER_TRY_TIMEOUT = new DeadlineReason('per-try');

/** The signal one try (or one wait) runs under; `dispose` clears its timer and parent link. */
export interface Scope {
  readonly signal: AbortSignal | null;
  dispose(): void;
}

const noop = (): void => {};
const BARE: Scope = Object.freeze({ signal: null, dispose: noop });
const ONCE = Object.freeze({ once: true });

/**
 * One AbortController and one timer, linked to the caller's signal. A class rather
 * than closures: it is the abort listener itself (`handleEvent`), so a timed try
 * allocates the controller, the timer and this object, nothing more.
 */
class TimedScope implements Scope {
  readonly signal: AbortSignal;
  readonly #ctl: AbortController;
  readonly #parent: AbortSignal | null;
  readonly #clock: Clock;
  readonly #timer: unknown;

  constructor(parent: AbortSignal | null, ms: number, reason: DeadlineReason, clock: Clock) {
    const ctl = new AbortController();
    this.#ctl = ctl;
    this.signal = ctl.signal;
    this.#parent = parent;
    this.#clock = clock;
    this.#timer = clock.setTimeout(() => ctl.abort(reason), ms);
    if (parent === null) return;
    if (parent.aborted) ctl.abort(parent.reason);
    else parent.addEventListener('abort', this, ONCE);
  }

  /** The caller aborted: the try aborts with the caller's reason. */
  handleEvent(): void {
    this.#ctl.abort(this.#parent?.reason);
  }

  dispose(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#parent?.removeEventListener('abort', this);
  }
}

/**
 * The signal a try runs under: the caller's own signal when the try has no deadline
 * (nothing is allocated; DESIGN.md: no timer or AbortSignal a request does not need),
 * else one controller and one timer armed for `ms`, aborting with `reason`.
 */
export function deadlineScope(
  parent: AbortSignal | null,
  ms: number | null,
  reason: DeadlineReason,
  clock: Clock,
): Scope {
  if (ms === null) return parent === null ? BARE : { signal: parent, dispose: noop };
  return new TimedScope(parent, ms, reason, clock);
}

const RESPONSE_TIMEOUT_CODE = 'MESHLET_ERR_OUTBOUND_ROUTE_TIMEOUT';

/** The error a response body fails with when the route timeout fires after its headers. */
function responseTimeoutError(timeoutMs: number | null): MeshletError {
  return new MeshletError(
    RESPONSE_TIMEOUT_CODE,
    `the route timeout${timeoutMs === null ? '' : ` of ${timeoutMs} ms`} expired while the response body was streaming`,
    timeoutMs === null ? {} : { timeoutMs },
  );
}

/** Whether a response body failed because the route timeout fired after its headers. */
export function isResponseTimeout(err: unknown): boolean {
  return isMeshletError(err) && err.code === RESPONSE_TIMEOUT_CODE;
}

/**
 * The deadlines of one try: one timer (and an AbortController only if a transport reads
 * `signal`: it also serves as the request's {@link TryAbort}), as Envoy runs them
 * (router.cc, upstream_request.cc):
 * - the per-try timeout starts when the transport has a connection (`poolReady`): connect,
 *   TLS handshake and the transport's own queue do not count against it
 *   (upstream_request.cc onPoolReady is where setupPerTryTimeout runs); until then only
 *   the route timeout (and the cluster's connect timeout, in the transport) bound the try;
 * - after the response headers only the route timeout goes on, over the body: Envoy
 *   ignores a per-try timeout once the response started (upstream_request.cc
 *   onPerTryTimeout), while its response timer runs until the response is complete
 *   (router.cc onUpstreamComplete → cleanup). Firing then fails the body with
 *   `MESHLET_ERR_OUTBOUND_ROUTE_TIMEOUT`: the headers went downstream, so Envoy can only
 *   reset the stream (router.cc onResponseTimeout → sendLocalReply, filter_manager.cc).
 * A fire aborts the signal with the deadline's reason; on a tie the route's wins.
 *
 * The timer is armed once, for the sooner of the route deadline and the per-try timeout
 * counted from now, and checked when it fires: a deadline not reached yet (the
 * connection came later, or the headers arrived) re-arms it then. A try that ends in time
 * costs one timer, as before the connection and the body were told apart.
 */
export class TryTimer implements PoolReadyListener, TryAbort {
  /** Made when `signal` is first read: a transport that `listensToAbort` needs none. */
  #ctl: AbortController | null = null;
  #aborted = false;
  #reason: unknown = undefined;
  #listeners: (() => void)[] | null = null;
  readonly #parent: AbortSignal | null;
  readonly #clock: Clock;
  readonly #deadline: number | null;
  readonly #routeMs: number | null;
  readonly #perTryMs: number | null;
  /** When the transport had the connection (`clock.now()` terms); null until then. */
  #readyAt: number | null;
  /** The response headers arrived: the per-try timeout no longer applies. */
  #responded = false;
  /** The response body while the route timeout runs over it. */
  #body: Readable | null = null;
  #timer: unknown = null;
  /** When the armed timer fires; Infinity when none is armed. */
  #timerAt = Infinity;
  readonly #fire = (): void => this.#check();

  /**
   * @param deadline when the route timeout ends (`clock.now()` terms), null for none
   * @param routeMs the route timeout, for the body's error
   * @param waitForPool whether the transport calls `poolReady`; if not, the per-try
   *   timeout starts now
   * @param now the clock's time, if the caller just read it
   */
  constructor(
    parent: AbortSignal | null,
    clock: Clock,
    deadline: number | null,
    routeMs: number | null,
    perTryMs: number | null,
    waitForPool: boolean,
    now: number = clock.now(),
  ) {
    this.#parent = parent;
    this.#clock = clock;
    this.#deadline = deadline;
    this.#routeMs = routeMs;
    this.#perTryMs = perTryMs;
    this.#readyAt = waitForPool ? null : now;
    this.#arm(Math.min(deadline ?? Infinity, perTryMs === null ? Infinity : now + perTryMs), now);
    if (parent === null) return;
    if (parent.aborted) this.#abort(parent.reason);
    else parent.addEventListener('abort', this, ONCE);
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** The try's signal, made on first read (aborted at once if the try already is). */
  get signal(): AbortSignal {
    let ctl = this.#ctl;
    if (ctl === null) {
      ctl = new AbortController();
      this.#ctl = ctl;
      if (this.#aborted) ctl.abort(this.#reason);
    }
    return ctl.signal;
  }

  onAbort(listener: () => void): void {
    if (this.#aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  offAbort(listener: () => void): void {
    const list = this.#listeners;
    if (list === null) return;
    const i = list.indexOf(listener);
    if (i !== -1) list.splice(i, 1);
  }

  /** The try has its connection: its per-try timeout starts now. */
  poolReady(): void {
    if (this.#readyAt !== null) return;
    const now = this.#clock.now();
    this.#readyAt = now;
    const ms = this.#perTryMs;
    if (ms === null || this.#responded || this.#aborted) return;
    // Usually the timer armed at the start fires no later; it is checked then.
    if (now + ms < this.#timerAt && (this.#deadline === null || now + ms < this.#deadline))
      this.#arm(now + ms, now);
  }

  /** The response headers arrived: only the route timeout, if any, goes on, over `body`. */
  responded(body: Readable): void {
    this.#responded = true;
    this.#parent?.removeEventListener('abort', this);
    if (this.#deadline === null) this.#clear();
    else this.#body = body;
  }

  /** The caller aborted: the try aborts with the caller's reason. */
  handleEvent(): void {
    this.#abort(this.#parent?.reason);
  }

  /** The try is over (failed, or its body ended or was destroyed): no timer, no listener left. */
  dispose(): void {
    this.#clear();
    this.#body = null;
    this.#listeners = null;
    this.#parent?.removeEventListener('abort', this);
  }

  #arm(at: number, now: number): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at !== Infinity) this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, at - now));
  }

  #clear(): void {
    if (this.#timer === null) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #check(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    const deadline = this.#deadline;
    if (deadline !== null && now >= deadline) {
      this.#expire(ROUTE_TIMEOUT);
      return;
    }
    const ms = this.#perTryMs;
    const ready = this.#readyAt;
    let next = deadline ?? Infinity;
    if (ms !== null && ready !== null && !this.#responded) {
      if (now >= ready + ms) {
        this.#expire(PER_TRY_TIMEOUT);
        return;
      }
      next = Math.min(next, ready + ms);
    }
    this.#arm(next, now);
  }

  #expire(reason: DeadlineReason): void {
    const body = this.#body;
    this.#body = null;
    // The body first, so the caller sees this error rather than the transport's abort.
    if (body !== null) body.destroy(responseTimeoutError(this.#routeMs));
    this.#abort(reason);
  }

  /** Listeners first, then the signal if one was made. */
  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const list = this.#listeners;
    this.#listeners = null;
    if (list !== null) for (const fn of list) fn();
    this.#ctl?.abort(reason);
  }
}

/**
 * Settles with `p`, or rejects with the signal's reason as soon as it aborts. A value
 * that arrives after the abort goes to `onLate` (to release a pool ticket or drain a body).
 */
export function raceSignal<T>(
  p: Promise<T>,
  signal: AbortSignal | null,
  onLate?: (value: T) => void,
): Promise<T> {
  if (signal === null) return p;
  const late = (v: T): void => onLate?.(v);
  if (signal.aborted) {
    p.then(late, noop);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
      p.then(late, noop);
    };
    signal.addEventListener('abort', onAbort, ONCE);
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
