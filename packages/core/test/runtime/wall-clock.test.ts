import { describe, expect, it } from 'vitest';
import { createWallClock, wallClockMs } from '../../src/runtime/wall-clock.js';

describe('createWallClock', () => {
  it('follows the monotonic clock between resyncs, and takes the wall clock again after one', () => {
    let wall = 1_700_000_000_000;
    let mono = 50;
    let wallReads = 0;
    const clock = createWallClock(
      1_000,
      () => (wallReads++, wall),
      () => mono,
    );
    const W = 1_700_000_000_000;
    expect(clock()).toBe(W);
    mono += 400;
    wall += 400;
    expect(clock()).toBe(W + 400);
    // The system clock steps an hour ahead: not seen until the next resync...
    wall += 3_600_000;
    mono += 100;
    wall += 100;
    expect(clock()).toBe(W + 500);
    const readsBefore = wallReads;
    // ...which comes once a second of monotonic time has passed since the last one.
    mono += 500;
    wall += 500;
    expect(clock()).toBe(W + 3_601_000);
    expect(wallReads).toBe(readsBefore + 1);
    mono += 10;
    wall += 10;
    expect(clock()).toBe(W + 3_601_010);
    expect(wallReads).toBe(readsBefore + 1);
  });

  it('resyncs when the monotonic clock goes backwards (a different clock injected)', () => {
    let mono = 5_000;
    const clock = createWallClock(
      1_000,
      () => 42_000,
      () => mono,
    );
    expect(clock()).toBe(42_000);
    mono = 10;
    expect(clock()).toBe(42_000);
  });

  it('stays within a few milliseconds of Date.now on the real clocks', () => {
    for (let i = 0; i < 1_000; i++) expect(Math.abs(wallClockMs() - Date.now())).toBeLessThan(5);
  });
});
