import { Writable } from 'node:stream';

/** Callbacks waiting for the next line written into each collected array. */
const waiting = new WeakMap<string[], (() => void)[]>();

/** A stream that appends every non-empty line written to it to `lines` (an access-log sink for tests). */
export function lineCollector(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      for (const wake of waiting.get(lines)?.splice(0) ?? []) wake();
      cb();
    },
  });
}

/**
 * Resolves once a `lineCollector`'s `lines` holds more than `count` lines: the access log
 * writes after the response, so a test that has its response waits for the line here.
 * Rejects after `timeoutMs`.
 */
export async function linesBeyond(lines: string[], count: number, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (lines.length <= count) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`expected more than ${count} access-log lines, have ${lines.length}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      const queue = waiting.get(lines) ?? [];
      waiting.set(lines, queue);
      queue.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
