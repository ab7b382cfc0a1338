import type { TransportRequest, TryAbort } from '../transport.js';

const ONCE = Object.freeze({ once: true });

/** An AbortSignal seen as a {@link TryAbort}; its listeners are the signal's own. */
class SignalAbort implements TryAbort {
  readonly #signal: AbortSignal;
  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }
  get aborted(): boolean {
    return this.#signal.aborted;
  }
  get reason(): unknown {
    return this.#signal.reason as unknown;
  }
  onAbort(listener: () => void): void {
    this.#signal.addEventListener('abort', listener, ONCE);
  }
  offAbort(listener: () => void): void {
    this.#signal.removeEventListener('abort', listener);
  }
}

/**
 * What aborts an attempt, for a transport that needs no AbortSignal of its own: the
 * request's `abort` when it has one (its `signal` is then never made), else its `signal`;
 * null when nothing can abort it.
 */
export function abortOf(req: TransportRequest): TryAbort | null {
  const abort = req.abort;
  if (abort !== undefined && abort !== null) return abort;
  const signal = req.signal;
  return signal === null ? null : new SignalAbort(signal);
}
