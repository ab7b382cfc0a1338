import { ExportResultCode } from '@opentelemetry/core';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { LogsExporter, OtlpLogRecord } from './logs-exporter.js';

/**
 * Envoy's gRPC access logger buffering (envoy api access_loggers/grpc/v3/als.proto
 * CommonGrpcAccessLogConfig, which istiod leaves at its defaults): entries are sent every
 * `buffer_flush_interval` (1s), or as soon as the buffer reaches `buffer_size_bytes` (16 KiB).
 */
export const DEFAULT_FLUSH_INTERVAL_MS = 1000;
export const DEFAULT_BUFFER_BYTES = 16384;

export interface LogBatcherOptions {
  readonly flushIntervalMs?: number;
  readonly bufferBytes?: number;
  /** The mesh's clock (DESIGN.md: time is injected); the system clock by default. */
  readonly clock?: Clock;
}

/**
 * Buffers LogRecords and exports them in batches. Never throws and never waits: a batch
 * the exporter fails to send (collector down, exporter missing) counts as dropped.
 */
export class LogBatcher {
  readonly #exporter: () => LogsExporter;
  readonly #intervalMs: number;
  readonly #bufferBytes: number;
  readonly #clock: Clock;
  readonly #inFlight = new Set<Promise<void>>();
  #buffer: OtlpLogRecord[] = [];
  #bytes = 0;
  #timer: unknown = null;
  #exporterInstance: LogsExporter | null = null;
  #dropped = 0;
  #closed = false;

  constructor(exporter: () => LogsExporter, options: LogBatcherOptions = {}) {
    this.#exporter = exporter;
    this.#intervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.#bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
    this.#clock = options.clock ?? systemClock;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Buffers a record of about `size` bytes; sends the buffer once it is full. */
  add(record: OtlpLogRecord, size: number): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    this.#buffer.push(record);
    this.#bytes += size;
    if (this.#bytes >= this.#bufferBytes) this.#send();
    else this.#timer ??= this.#clock.setTimeout(() => this.#send(), this.#intervalMs);
  }

  /** Sends what is buffered and resolves when every batch sent so far is done. */
  flush(): Promise<void> {
    this.#send();
    return Promise.all([...this.#inFlight]).then(() => undefined);
  }

  /** Flushes, then shuts the exporter down; later records are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return this.flush();
    await this.flush();
    this.#closed = true;
    if (this.#exporterInstance !== null) await this.#exporterInstance.shutdown().catch(() => undefined);
  }

  #send(): void {
    if (this.#timer !== null) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#bytes = 0;
    const sent = new Promise<void>((resolve) => {
      try {
        const exporter = (this.#exporterInstance ??= this.#exporter());
        exporter.export(batch, (result) => {
          if (result.code !== ExportResultCode.SUCCESS) this.#dropped += batch.length;
          resolve();
        });
      } catch {
        this.#dropped += batch.length;
        resolve();
      }
    });
    this.#inFlight.add(sent);
    void sent.then(() => this.#inFlight.delete(sent));
  }
}
