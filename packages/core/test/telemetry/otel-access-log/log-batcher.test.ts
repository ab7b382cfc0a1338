import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { LogBatcher } from '../../../src/telemetry/otel-access-log/log-batcher.js';
import type { LogsExporter, OtlpLogRecord } from '../../../src/telemetry/otel-access-log/logs-exporter.js';

const record = (body: string): OtlpLogRecord => ({
  hrTime: [1, 0],
  hrTimeObserved: [0, 0],
  body,
  attributes: {},
  droppedAttributesCount: 0,
  resource: emptyResource(),
  instrumentationScope: { name: '' },
});

function fakeExporter(code: ExportResultCode = ExportResultCode.SUCCESS) {
  const batches: string[][] = [];
  let shutdowns = 0;
  const exporter: LogsExporter = {
    export(records, done: (r: ExportResult) => void) {
      batches.push(records.map((r) => r.body as string));
      setImmediate(() => done({ code }));
    },
    shutdown: () => {
      shutdowns++;
      return Promise.resolve();
    },
  };
  return { exporter, batches, shutdowns: () => shutdowns };
}

// Envoy's gRPC access logger (source/extensions/access_loggers/common/grpc_access_logger.h):
// entries buffered, sent every buffer_flush_interval (1s default) or once buffer_size_bytes
// (16384 default) is reached; CommonGrpcAccessLogConfig defaults, which istiod does not set.
describe('LogBatcher', () => {
  it('sends the buffer after the 1s flush interval, not before', async () => {
    const clock = createManualClock();
    const f = fakeExporter();
    const b = new LogBatcher(() => f.exporter, { clock });
    b.add(record('a'), 10);
    b.add(record('b'), 10);
    await clock.advance(999);
    expect(f.batches).toEqual([]);
    await clock.advance(1);
    expect(f.batches).toEqual([['a', 'b']]);
  });

  it('sends at once when the buffer reaches 16 KiB', () => {
    const f = fakeExporter();
    const b = new LogBatcher(() => f.exporter);
    b.add(record('a'), 16000);
    expect(f.batches).toEqual([]);
    b.add(record('b'), 384);
    expect(f.batches).toEqual([['a', 'b']]);
  });

  it('flush() sends and waits; close() flushes, shuts the exporter down and drops what comes later', async () => {
    const f = fakeExporter();
    const b = new LogBatcher(() => f.exporter);
    b.add(record('a'), 1);
    await b.flush();
    expect(f.batches).toEqual([['a']]);
    b.add(record('b'), 1);
    await b.close();
    expect(f.batches).toEqual([['a'], ['b']]);
    expect(f.shutdowns()).toBe(1);
    b.add(record('c'), 1);
    await b.flush();
    expect(f.batches).toHaveLength(2);
    expect(b.dropped).toBe(1);
  });

  it('counts the records of a failed export, or of an exporter that cannot be made, as dropped', async () => {
    const f = fakeExporter(ExportResultCode.FAILED);
    const b = new LogBatcher(() => f.exporter);
    b.add(record('a'), 1);
    b.add(record('b'), 1);
    await b.flush();
    expect(b.dropped).toBe(2);
    const broken = new LogBatcher(() => {
      throw new Error('no exporter');
    });
    broken.add(record('a'), 1);
    await broken.flush();
    expect(broken.dropped).toBe(1);
  });
});
