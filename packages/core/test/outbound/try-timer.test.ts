import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/runtime/clock.js';
import { PER_TRY_TIMEOUT, ROUTE_TIMEOUT, TryTimer } from '../../src/outbound/timeouts.js';

/** A try timer with a route deadline at 100 and a per-try timeout of 30, counted from now. */
function timer(parent: AbortSignal | null = null) {
  const clock = createManualClock();
  const t = new TryTimer(parent, clock, 100, 100, 30, false);
  return { clock, t };
}

describe('TryTimer as a TryAbort', () => {
  it("calls its abort listeners once with the deadline's reason, and a signal read later is already aborted", async () => {
    const { clock, t } = timer();
    const heard: unknown[] = [];
    t.onAbort(() => heard.push(t.reason));
    t.onAbort(() => heard.push('second'));
    expect(t.aborted).toBe(false);
    await clock.advance(30);
    expect([t.aborted, t.reason, heard]).toEqual([true, PER_TRY_TIMEOUT, [PER_TRY_TIMEOUT, 'second']]);
    const signal = t.signal;
    expect([signal.aborted, signal.reason]).toEqual([true, PER_TRY_TIMEOUT]);
    expect(t.signal).toBe(signal);
    t.dispose();
    expect(clock.pending()).toBe(0);
  });

  it('aborts a signal read before the deadline when the deadline fires, after the listeners', async () => {
    const { clock, t } = timer();
    const order: string[] = [];
    t.signal.addEventListener('abort', () =>
      order.push(`signal ${String(t.signal.reason === PER_TRY_TIMEOUT)}`),
    );
    t.onAbort(() => order.push('listener'));
    await clock.advance(29);
    expect(order).toEqual([]);
    await clock.advance(1);
    expect(order).toEqual(['listener', 'signal true']);
  });

  it('forgets a listener taken off, and never calls one added after the abort (as an AbortSignal)', async () => {
    const { clock, t } = timer();
    const heard: string[] = [];
    const off = (): void => {
      heard.push('off');
    };
    t.onAbort(off);
    t.onAbort(() => heard.push('kept'));
    t.offAbort(off);
    await clock.advance(30);
    t.onAbort(() => heard.push('late'));
    expect(heard).toEqual(['kept']);
  });

  it("aborts with the caller's reason when the caller's signal aborts, before or after it started", () => {
    const caller = new AbortController();
    const { t } = timer(caller.signal);
    const heard: unknown[] = [];
    t.onAbort(() => heard.push(t.reason));
    const why = new Error('caller gone');
    caller.abort(why);
    expect([t.aborted, heard]).toEqual([true, [why]]);

    const already = new AbortController();
    already.abort(ROUTE_TIMEOUT);
    const { t: late } = timer(already.signal);
    expect([late.aborted, late.reason, late.signal.reason]).toEqual([true, ROUTE_TIMEOUT, ROUTE_TIMEOUT]);
  });

  it('calls no listener once disposed in time', async () => {
    const { clock, t } = timer();
    let called = false;
    t.onAbort(() => (called = true));
    t.dispose();
    await clock.advance(200);
    expect([called, t.aborted]).toEqual([false, false]);
  });
});
