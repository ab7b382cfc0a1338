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

/** A signal that aborts when `parent` does or when its timer fires; `dispose` clears both. */
export interface Scope {
  readonly signal: AbortSignal | null;
  dispose(): void;
}

const noop = (): void => {};
const BARE: Scope = Object.freeze({ signal: null, dispose: noop });

/**
 * Links a deadline to a parent signal. Without a deadline the parent itself is used
 * and nothing is allocated (DESIGN.md: no timer or AbortSignal a request does not need).
 */
export function deadlineScope(
  parent: AbortSignal | null,
  ms: number | null,
  reason: unknown,
  clock: Clock,
): Scope {
  if (ms === null || ms <= 0) return parent === null ? BARE : { signal: parent, dispose: noop };
  const ctl = new AbortController();
  const timer = clock.setTimeout(() => ctl.abort(reason), ms);
  let onAbort: (() => void) | null = null;
  if (parent !== null) {
    if (parent.aborted) ctl.abort(parent.reason);
    else {
      onAbort = () => ctl.abort(parent.reason);
      parent.addEventListener('abort', onAbort, { once: true });
    }
  }
  return {
    signal: ctl.signal,
    dispose: () => {
      clock.clearTimeout(timer);
      if (onAbort !== null) parent?.removeEventListener('abort', onAbort);
    },
  };
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
    signal.addEventListener('abort', onAbort, { once: true });
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
