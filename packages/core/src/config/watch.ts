import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { hasErrors } from './diagnostic.js';
import { loadEntries, type LoadOptions } from './load.js';
import type { ConfigSnapshot } from './snapshot.js';
import { readSources, type SourceEntry } from './sources.js';

/** A snapshot together with a content hash, as the watcher hands it out. */
export interface WatchedConfig {
  readonly snapshot: ConfigSnapshot;
  /**
   * sha256 over the files read (names relative to their source, and contents), shortened;
   * stable across reloads of equal content and across mount points.
   */
  readonly hash: string;
  /** When this snapshot was loaded (epoch ms). */
  readonly loadedAt: number;
}

export interface WatchOptions extends LoadOptions {
  /** Quiet time before a reload, like Istio's FILE_DEBOUNCE_DURATION (100 ms). */
  readonly debounceMs?: number;
  /**
   * Extra acceptance check run on a snapshot without errors (the mesh compiles its
   * plan here); returning messages rejects the reload and keeps the last good one.
   */
  readonly accept?: (next: WatchedConfig) => readonly string[];
}

export interface ConfigWatcherEvents {
  /** A good reload: `current` now points at it. */
  reload: [next: WatchedConfig, previous: WatchedConfig];
  /** A bad reload: `current` is unchanged; every problem is in `snapshot.diagnostics` and `reasons`. */
  rejected: [attempt: WatchedConfig, reasons: readonly string[]];
}

/**
 * A file's name relative to the source it was found under, so the hash does not depend on
 * where the config is mounted (`/etc/mesh` in a pod, `./mesh` on a laptop): `meshlet
 * proxy-status` compares the two.
 */
function sourceRelative(file: string, sources: readonly string[]): string {
  for (const s of sources) {
    const root = path.normalize(s);
    if (file === s || file === root) return path.basename(root);
    if (root === '.') return file;
    const prefix = root.endsWith(path.sep) ? root : `${root}${path.sep}`;
    if (file.startsWith(prefix)) return file.slice(prefix.length);
  }
  return file;
}

function hashEntries(entries: readonly SourceEntry[], sources: readonly string[]): string {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(sourceRelative(e.file, sources))
      .update('\0')
      .update(e.kind === 'file' ? e.text : `!${e.message}`)
      .update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The content hash the watcher would give `sources` now (`WatchedConfig.hash`), for
 * `meshlet proxy-status` to compare a config dir with what a running instance loaded.
 */
export async function hashConfigSources(sources: readonly string[], cwd?: string): Promise<string> {
  return hashEntries(await readSources(sources, cwd), sources);
}

/**
 * Watches config directories and files. Kubernetes ConfigMap/Secret mounts swap a
 * `..data` symlink atomically, which shows up as a rename in the mounted directory,
 * so every directory that holds a config file (and every source directory) is
 * watched, changes are debounced, and the whole set is reloaded. A reload with any
 * Error keeps the last good snapshot.
 */
export class ConfigWatcher extends EventEmitter<ConfigWatcherEvents> {
  #current: WatchedConfig;
  readonly #sources: readonly string[];
  readonly #options: WatchOptions;
  readonly #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | null = null;
  #loading: Promise<void> | null = null;
  #again = false;
  #closed = false;

  private constructor(sources: readonly string[], options: WatchOptions, first: WatchedConfig) {
    super();
    this.#sources = sources;
    this.#options = options;
    this.#current = first;
  }

  /** Load once, then start watching. The first load is returned even if it has errors. */
  static async start(
    sources: string | readonly string[],
    options: WatchOptions = {},
  ): Promise<ConfigWatcher> {
    const list = typeof sources === 'string' ? [sources] : [...sources];
    const first = await ConfigWatcher.#read(list, options);
    const w = new ConfigWatcher(list, options, first);
    await w.#rewatch(first.snapshot.files);
    return w;
  }

  static async #read(sources: readonly string[], options: WatchOptions): Promise<WatchedConfig> {
    const entries = await readSources(sources, options.cwd);
    return {
      snapshot: loadEntries(entries, options),
      hash: hashEntries(entries, sources),
      loadedAt: Date.now(),
    };
  }

  /** The last good configuration (or the first load, if no good one has been seen yet). */
  get current(): WatchedConfig {
    return this.#current;
  }

  /** Reload now (also what a file event triggers after the debounce). Resolves when done. */
  async reload(): Promise<void> {
    if (this.#loading !== null) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = this.#doReload().finally(() => {
      this.#loading = null;
    });
    await this.#loading;
    if (this.#again && !this.#closed) {
      this.#again = false;
      await this.reload();
    }
  }

  async #doReload(): Promise<void> {
    if (this.#closed) return;
    const next = await ConfigWatcher.#read(this.#sources, this.#options);
    if (this.#closed) return;
    await this.#rewatch(next.snapshot.files);
    if (next.hash === this.#current.hash && !hasErrors(this.#current.snapshot.diagnostics)) return;
    const reasons: string[] = [];
    if (hasErrors(next.snapshot.diagnostics)) {
      reasons.push(...next.snapshot.diagnostics.filter((d) => d.level === 'Error').map((d) => d.message));
    } else if (this.#options.accept !== undefined) {
      reasons.push(...this.#options.accept(next));
    }
    if (reasons.length > 0) {
      this.emit('rejected', next, reasons);
      return;
    }
    const previous = this.#current;
    this.#current = next;
    this.emit('reload', next, previous);
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.reload().catch(() => {
        // readSources and loadEntries report problems as diagnostics; nothing to do here.
      });
    }, this.#options.debounceMs ?? 100);
    this.#timer.unref();
  }

  /** Watch every source directory and every directory that held a file. */
  async #rewatch(files: readonly string[]): Promise<void> {
    const cwd = this.#options.cwd ?? process.cwd();
    const dirs = new Set<string>();
    for (const s of this.#sources) {
      const full = path.resolve(cwd, s);
      try {
        dirs.add((await stat(full)).isDirectory() ? full : path.dirname(full));
      } catch {
        dirs.add(path.dirname(full)); // a missing file may appear later
      }
    }
    for (const f of files) dirs.add(path.dirname(path.resolve(cwd, f)));
    for (const [dir, w] of this.#watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir) || this.#closed) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.#schedule());
        w.on('error', () => {
          w.close();
          this.#watchers.delete(dir);
          this.#schedule();
        });
        this.#watchers.set(dir, w);
      } catch {
        // The directory vanished between stat and watch; the next reload retries.
      }
    }
  }

  /** Stop watching. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    await this.#loading;
  }
}

/** Start watching `sources`; see {@link ConfigWatcher}. */
export function watchConfig(
  sources: string | readonly string[],
  options: WatchOptions = {},
): Promise<ConfigWatcher> {
  return ConfigWatcher.start(sources, options);
}
