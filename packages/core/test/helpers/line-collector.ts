import { Writable } from 'node:stream';

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
      cb();
    },
  });
}
