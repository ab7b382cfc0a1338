import { performance } from 'node:perf_hooks';

/**
 * Time, injected (DESIGN.md "Time and randomness are injected"), so the mock mesh and
 * tests run policies on virtual time. Handles are opaque; only the clock that made one
 * may clear it.
 */
export interface Clock {
  /** Milliseconds, monotonic for the clock's purposes. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: wall-clock milliseconds since the epoch on this clock's time, for what
   * compares against real dates (JWT `exp`/`nbf`). A virtual clock maps its time onto
   * the wall clock of its start. Absent: `now()` is taken as epoch time.
   */
  epochMs?(): number;
}

/**
 * The real clock. Timers are unref'd: a mesh never keeps a process alive by itself.
 * `performance` comes from perf_hooks: the global is a lazy accessor in Node 20 that
 * runs on every read, and `now()` is read twice per request.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  sleep: (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason as Error);
        return;
      }
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
});

/**
 * A virtual clock for tests: time moves only when `advance` is called (or, with
 * `auto`, whenever every pending promise has settled and a timer is due).
 */
export interface ManualClock extends Clock {
  /** Run timers due within `ms`, in order, letting promises settle between them. */
  advance(ms: number): Promise<void>;
  /** Number of timers waiting. */
  pending(): number;
  /** When the earliest waiting timer is due (`now()` terms); null with none. */
  nextDue(): number | null;
}

export function createManualClock(start = 0): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void; seq: number }>();
  const flush = () => new Promise<void>((r) => setImmediate(r));
  const clock: ManualClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), fn, seq: id });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) {
          reject(signal.reason as Error);
          return;
        }
        const id = clock.setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        const onAbort = () => {
          clock.clearTimeout(id);
          reject(signal?.reason as Error);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    advance: async (ms) => {
      const until = now + ms;
      await flush();
      for (;;) {
        let next: { id: number; at: number; fn: () => void; seq: number } | null = null;
        for (const [id, t] of timers) {
          if (t.at <= until && (next === null || t.at < next.at || (t.at === next.at && t.seq < next.seq)))
            next = { id, ...t };
        }
        if (next === null) break;
        timers.delete(next.id);
        now = Math.max(now, next.at);
        next.fn();
        await flush();
      }
      now = until;
      await flush();
    },
    pending: () => timers.size,
    nextDue: () => {
      let at: number | null = null;
      for (const t of timers.values()) if (at === null || t.at < at) at = t.at;
      return at;
    },
  };
  return clock;
}
