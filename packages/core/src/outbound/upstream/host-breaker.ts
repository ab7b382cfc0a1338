import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';

/*
 * Why opossum only holds state here: its own model (trip when the error *rate* over a rolling
 * window passes `errorThresholdPercentage`, half-open after `resetTimeout`, close on one
 * success) is not Envoy's. Envoy ejects on *consecutive* errors, caps ejections by
 * `maxEjectionPercent`, and returns a host only on an `interval` sweep after
 * `baseEjectionTime × times ejected` (envoy source/common/upstream/outlier_detection_impl.cc).
 * So each host's breaker is driven by hand — `open()` on ejection, `close()` on return — and
 * nothing of opossum's decides: no action is ever fired, its rolling-window timers are off
 * (a rotate controller that never emits, no snapshots), and its reset timer is pushed past
 * any ejection (a stray `halfOpen` is re-opened by the owner).
 */

/** Never emits: opossum then keeps no bucket-rotation interval per breaker. */
const noRotation = new EventEmitter();
noRotation.setMaxListeners(0);

/** The largest delay a Node timer accepts (2^31−1 ms, about 24.8 days). */
const NEVER_MS = 2_147_483_647;

const noAction = (): Promise<void> => Promise.resolve();

/** One breaker per ejected-capable host; see the comment above for why it is passive. */
export function createHostBreaker(name: string): CircuitBreaker {
  return new CircuitBreaker(noAction, {
    name,
    resetTimeout: NEVER_MS,
    enableSnapshots: false,
    rollingPercentilesEnabled: false,
    rotateBucketController: noRotation,
  });
}
