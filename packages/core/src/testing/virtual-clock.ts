import { performance } from 'node:perf_hooks';
import { createManualClock, type ManualClock } from '../runtime/clock.js';

/**
 * The mock mesh's clock: a manual clock whose virtual milliseconds pass on their own while
 * the mesh has work (`createVirtualClock`); `sleep` lets a handler spend virtual time.
 */
export type VirtualClock = ManualClock;

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
  // The timers and their order are a manual clock's; this adds when to move it.
  const manual = createManualClock(start);
  // Virtual time 0 is the wall clock when the mesh was made: tokens issued now are valid now.
  const epoch = Date.now() - start;
  let activity = 0;
  let driving = false;
  let sleepers = 0;

  const working = (): boolean => sleepers > 0 || busy();

  const drive = async (): Promise<void> => {
    driving = true;
    try {
      let seen = activity;
      let idle = 0;
      let quietSince = performance.now();
      while (manual.pending() > 0 && working()) {
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
        const due = manual.nextDue();
        if (due !== null) await manual.advance(Math.max(0, due - manual.now()));
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
    if (!driving && manual.pending() > 0 && working()) void drive();
  };

  return {
    now: () => manual.now(),
    epochMs: () => epoch + manual.now(),
    setTimeout: (fn, ms) => {
      const handle = manual.setTimeout(() => {
        activity++;
        fn();
      }, ms);
      touch();
      return handle;
    },
    clearTimeout: (handle) => {
      manual.clearTimeout(handle);
      activity++;
    },
    sleep: (ms, signal) => {
      sleepers++;
      const slept = manual.sleep(ms, signal).finally(() => sleepers--);
      touch();
      return slept;
    },
    advance: (ms) => manual.advance(ms),
    pending: () => manual.pending(),
    nextDue: () => manual.nextDue(),
    touch,
  };
}
