import { performance } from 'node:perf_hooks';
import type { Clock } from '../runtime/clock.js';

/** The mock mesh's clock: virtual milliseconds that pass only while the mesh has work. */
export interface VirtualClock extends Clock {
  /** Virtual time passes while `sleep` waits (for a handler that simulates work). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Run the timers due within `ms` of now, letting the work they start settle between them. */
  advance(ms: number): Promise<void>;
  /** Timers waiting. */
  pending(): number;
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Event-loop turns with nothing new before the next timer may fire. */
const IDLE_TURNS = 8;
/**
 * Real milliseconds a handler may work on its own, with nothing else happening, before
 * virtual time moves anyway: a handler that never answers must not stop the clock that
 * would time it out.
 */
const GRACE_MS = 250;

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
const pause = (): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, 1));

/**
 * A clock that jumps to the next timer once the work in flight has settled: the
 * delays, timeouts, backoffs and ejection times of a whole topology elapse in virtual
 * time, so a test of a 7 s fault delay takes milliseconds. `busy()` says whether work is
 * in flight (a call, a `sleep`); with none, periodic timers (outlier sweeps) wait, so an
 * idle mock mesh does not spin. "Settled" means `IDLE_TURNS` event-loop turns passed with
 * no timer set, cleared or fired and no `touch()` (in-memory work progresses within a
 * turn or two), and `settled()`: every running handler waits on the mesh, not on real
 * work of its own. A handler busy on its own is waited for in real time, up to `GRACE_MS`
 * without any activity.
 */
export function createVirtualClock(
  busy: () => boolean,
  settled: () => boolean = () => true,
  start = 0,
): VirtualClock & { touch(): void } {
  let now = start;
  // Virtual time 0 is the wall clock when the mesh was made: tokens issued now are valid now.
  const epoch = Date.now() - start;
  let seq = 0;
  let activity = 0;
  let driving = false;
  let sleepers = 0;
  const timers = new Map<number, Timer>();

  const earliest = (until: number): [number, Timer] | null => {
    let next: [number, Timer] | null = null;
    for (const entry of timers) {
      const t = entry[1];
      if (t.at > until) continue;
      if (next === null || t.at < next[1].at || (t.at === next[1].at && t.seq < next[1].seq)) next = entry;
    }
    return next;
  };

  const fire = ([id, t]: [number, Timer]): void => {
    timers.delete(id);
    now = Math.max(now, t.at);
    activity++;
    t.fn();
  };

  const working = (): boolean => sleepers > 0 || busy();

  const drive = async (): Promise<void> => {
    driving = true;
    try {
      let seen = activity;
      let idle = 0;
      let quietSince = performance.now();
      while (timers.size > 0 && working()) {
        // A handler working on its own (settled() false) is waited for in real time.
        const handlersWait = settled();
        if (handlersWait) await turn();
        else await pause();
        if (activity !== seen) {
          seen = activity;
          idle = 0;
          quietSince = performance.now();
          continue;
        }
        if (handlersWait ? ++idle < IDLE_TURNS : performance.now() - quietSince < GRACE_MS) continue;
        const next = earliest(Number.POSITIVE_INFINITY);
        if (next !== null) fire(next);
        seen = activity;
        idle = 0;
        quietSince = performance.now();
      }
    } finally {
      driving = false;
    }
  };

  const touch = (): void => {
    activity++;
    if (!driving && timers.size > 0 && working()) void drive();
  };

  const clock: VirtualClock & { touch(): void } = {
    now: () => now,
    epochMs: () => epoch + now,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), seq: id, fn });
      touch();
      return id;
    },
    clearTimeout: (handle) => {
      if (timers.delete(handle as number)) activity++;
    },
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) {
          reject(signal.reason as Error);
          return;
        }
        sleepers++;
        const done = (): void => {
          sleepers--;
          signal?.removeEventListener('abort', onAbort);
        };
        const id = clock.setTimeout(() => {
          done();
          resolve();
        }, ms);
        const onAbort = (): void => {
          clock.clearTimeout(id);
          done();
          reject(signal?.reason as Error);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    advance: async (ms) => {
      const until = now + Math.max(0, ms);
      await turn();
      for (let next = earliest(until); next !== null; next = earliest(until)) {
        fire(next);
        await turn();
      }
      now = Math.max(now, until);
      await turn();
    },
    pending: () => timers.size,
    touch,
  };
  return clock;
}
