import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/** Where access log lines go. Writes are buffered and never block or throw. */
export interface LineSink {
  write(line: string): void;
  /** Resolves when every buffered line has been handed to the stream. */
  flush(): Promise<void>;
  /** Flush, then close the file (never closes stdout/stderr). */
  close(): Promise<void>;
  /** Lines dropped because the buffer was full or the stream failed. */
  readonly dropped: number;
}

export interface SinkOptions {
  /** Cap on bytes waiting while the stream applies backpressure; lines beyond it are dropped. Default 4 MiB. */
  readonly maxBufferBytes?: number;
  /** Write here instead of opening `path` (tests, custom transports). */
  readonly stream?: Writable;
}

/**
 * A buffered line sink for meshConfig `accessLogFile`: `/dev/stdout`, `/dev/stderr`
 * or a file opened for append. Lines are joined and written once per event-loop turn
 * (setImmediate), so a request pays for a string push, not a syscall. A slow or broken
 * destination drops lines (counted) instead of growing memory or throwing.
 */
export function createLineSink(path: string, options: SinkOptions = {}): LineSink {
  const maxBytes = options.maxBufferBytes ?? 4 * 1024 * 1024;
  const owned = options.stream === undefined && path !== '/dev/stdout' && path !== '/dev/stderr';
  let stream: Writable | null = null;
  let broken = false;
  const open = (): Writable | null => {
    if (stream !== null || broken) return stream;
    try {
      stream =
        options.stream ??
        (path === '/dev/stdout'
          ? process.stdout
          : path === '/dev/stderr'
            ? process.stderr
            : createWriteStream(path, { flags: 'a' }));
      stream.on('error', () => {
        broken = true;
      });
    } catch {
      broken = true;
    }
    return stream;
  };
  let buffer: string[] = [];
  let bytes = 0;
  let scheduled = false;
  let blocked = false;
  let dropped = 0;
  let waiters: (() => void)[] = [];

  const settle = () => {
    if (buffer.length === 0 && !blocked) {
      const w = waiters;
      waiters = [];
      for (const fn of w) fn();
    }
  };
  const drain = () => {
    scheduled = false;
    const s = open();
    if (s === null || broken) {
      dropped += buffer.length;
      buffer = [];
      bytes = 0;
      settle();
      return;
    }
    if (blocked || buffer.length === 0) {
      settle();
      return;
    }
    const chunk = buffer.join('');
    buffer = [];
    bytes = 0;
    try {
      if (!s.write(chunk)) {
        blocked = true;
        s.once('drain', () => {
          blocked = false;
          drain();
        });
      }
    } catch {
      broken = true;
    }
    settle();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  return {
    write(line) {
      if (broken || bytes + line.length > maxBytes) {
        dropped++;
        return;
      }
      buffer.push(line);
      bytes += line.length;
      schedule();
    },
    flush() {
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        if (broken) {
          drain();
          return;
        }
        schedule();
      });
    },
    async close() {
      await this.flush();
      if (owned && stream !== null && !broken) {
        const s = stream;
        await new Promise<void>((resolve) => s.end(resolve));
      }
    },
    get dropped() {
      return dropped;
    },
  };
}
