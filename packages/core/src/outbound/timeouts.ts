import type { Clock } from '../runtime/clock.js';

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
