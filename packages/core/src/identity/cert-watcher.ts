import { watch, type FSWatcher } from 'node:fs';
import { isMeshletError, MeshletError } from '../errors/meshlet-error.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { loadCertDir, volumeGeneration } from './cert-source.js';
import type { CertSource, WorkloadCertificates } from './types.js';

/** What a watched certificate directory reports. */
export type CertEvent =
  | {
      readonly type: 'rotated';
      readonly certificates: WorkloadCertificates;
      readonly previous: WorkloadCertificates;
    }
  | {
      /** A change was seen but the new files are unusable: the old certificates stay in use. */
      readonly type: 'rejected';
      readonly reason: string;
      readonly error: MeshletError;
      readonly kept: WorkloadCertificates;
    };

/** Mounted workload certificates that follow rotations of their directory. */
export interface CertWatcher extends CertSource {
  /** The current leaf's `notAfter`. */
  expiresAt(): Date;
  /** Subscribe to rotations and rejected rotations; returns the unsubscribe function. */
  onEvent(listener: (event: CertEvent) => void): () => void;
  /** Re-read the directory now; resolves with what happened (null: nothing changed). */
  reload(): Promise<CertEvent | null>;
  /** Stop watching. */
  close(): void;
}

export interface WatchCertDirOptions {
  /** Quiet time after the last file event before reloading (default 100 ms, Istio's `FILE_DEBOUNCE_DURATION`). */
  readonly debounceMs?: number;
  /** Timers for the debounce (default the system clock). */
  readonly clock?: Clock;
  /** Wall-clock ms for the validity check (default `Date.now`). */
  readonly now?: () => number;
}

function same(a: WorkloadCertificates, b: WorkloadCertificates): boolean {
  return a.fingerprint256 === b.fingerprint256 && a.keyPem === b.keyPem && a.rootCertPem === b.rootCertPem;
}

/**
 * Load the certificates mounted in `dir` and follow their rotation. The directory is
 * watched (not the files: Kubernetes swaps a `..data` symlink, so files are replaced,
 * never rewritten); events are debounced, then key, chain and roots are read together
 * and checked (security.md §7). A good set replaces the current one atomically and emits
 * `rotated`; a broken or half-written one is `rejected` with the reason, and the old
 * certificates stay. Rejects with MESHLET_ERR_IDENTITY_CERTS when the first load fails.
 */
export async function watchCertDir(dir: string, options: WatchCertDirOptions = {}): Promise<CertWatcher> {
  const clock = options.clock ?? systemClock;
  const debounceMs = options.debounceMs ?? 100;
  const check = options.now === undefined ? {} : { now: options.now };
  let current = await loadCertDir(dir, check);
  const listeners = new Set<(event: CertEvent) => void>();
  let timer: unknown = null;
  let running: Promise<CertEvent | null> | null = null;
  let again = false;
  let closed = false;

  const emit = (event: CertEvent) => {
    for (const l of listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure must not stop rotation for the others.
      }
    }
  };

  const reject = (err: unknown): CertEvent => {
    const error = isMeshletError(err)
      ? err
      : new MeshletError(
          'MESHLET_ERR_IDENTITY_CERTS',
          `${dir}: ${err instanceof Error ? err.message : String(err)}`,
          {
            directory: dir,
          },
        );
    const event: CertEvent = Object.freeze({ type: 'rejected', reason: error.message, error, kept: current });
    emit(event);
    return event;
  };

  const loadOnce = async (): Promise<CertEvent | null> => {
    // The kubelet may swap `..data` and remove the generation being read (AtomicWriter):
    // a read that fails while `..data` moved on is read again, not reported.
    for (let attempt = 1; ; attempt++) {
      const generation = await volumeGeneration(dir);
      try {
        return loaded(await loadCertDir(dir, check));
      } catch (err) {
        if (closed) return null;
        if (attempt < 3 && (await volumeGeneration(dir)) !== generation) continue;
        return reject(err);
      }
    }
  };

  const loaded = (next: WorkloadCertificates): CertEvent | null => {
    if (closed || same(next, current)) return null;
    const previous = current;
    current = next;
    const event: CertEvent = Object.freeze({ type: 'rotated', certificates: next, previous });
    emit(event);
    return event;
  };

  const reload = (): Promise<CertEvent | null> => {
    if (running !== null) {
      // A change arrived mid-read: read once more afterwards so the last state wins.
      again = true;
      return running;
    }
    running = (async () => {
      let result = await loadOnce();
      while (again && !closed) {
        again = false;
        result = (await loadOnce()) ?? result;
      }
      running = null;
      return result;
    })();
    return running;
  };

  const schedule = () => {
    if (closed) return;
    if (timer !== null) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => {
      timer = null;
      void reload();
    }, debounceMs);
  };

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', (err) => {
      if (!closed) reject(err);
    });
  } catch (err) {
    throw new MeshletError(
      'MESHLET_ERR_IDENTITY_CERTS',
      `${dir}: cannot watch the directory (${(err as Error).message})`,
      {
        directory: dir,
      },
    );
  }

  return Object.freeze({
    current: () => current,
    expiresAt: () => current.notAfter,
    onEvent: (listener: (event: CertEvent) => void) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    reload,
    close: () => {
      closed = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      watcher?.close();
      listeners.clear();
    },
  });
}
