import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/testing/virtual-clock.js';

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('the mock mesh virtual clock', () => {
  it('jumps to each timer in order while work is in flight, and stays put while none is', async () => {
    let busy = true;
    const clock = createVirtualClock(() => busy);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
    const cancelled = clock.setTimeout(() => fired.push('never'), 150);
    clock.clearTimeout(cancelled);
    await turns(40);
    expect(fired).toEqual(['a@100', 'b@200']);
    busy = false;
    clock.setTimeout(() => fired.push('idle'), 10);
    await turns(40);
    // Nothing in flight: an idle mesh's periodic timers (outlier sweeps) do not run time on.
    expect(fired).toEqual(['a@100', 'b@200']);
    expect(clock.pending()).toBe(1);
    await clock.advance(10);
    expect(fired).toEqual(['a@100', 'b@200', 'idle']);
  });

  it('lets a sleep pass virtual time on its own, and rejects it with the signal reason on abort', async () => {
    const clock = createVirtualClock(() => false);
    await clock.sleep(5_000);
    expect(clock.now()).toBe(5_000);
    const ctl = new AbortController();
    const slept = clock.sleep(1_000, ctl.signal);
    ctl.abort(new Error('stop'));
    await expect(slept).rejects.toThrow('stop');
    expect(clock.pending()).toBe(0);
  });

  it('waits for a pod working on its own before moving time on, up to a grace of real time', async () => {
    let working = true;
    const clock = createVirtualClock(
      () => true,
      () => !working,
    );
    let fired = false;
    clock.setTimeout(() => (fired = true), 1_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(fired).toBe(false);
    working = false;
    clock.touch();
    // The driver polls a working pod every real millisecond; then it settles in a few turns.
    await new Promise((r) => setTimeout(r, 20));
    await turns(40);
    expect(fired).toBe(true);
  });

  it('maps virtual time onto the wall clock of its start, for JWT times', async () => {
    const before = Date.now();
    const clock = createVirtualClock(() => false);
    await clock.advance(60_000);
    const epoch = clock.epochMs?.() ?? 0;
    expect(epoch).toBeGreaterThanOrEqual(before + 60_000);
    expect(epoch).toBeLessThan(Date.now() + 60_000 + 1_000);
  });
});
