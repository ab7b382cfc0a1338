import { formatDiagnostic, hasErrors } from '../config/diagnostic.js';
import type { Diagnostic } from '../config/diagnostic.js';
import { loadConfigText } from '../config/load.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import { watchConfig, type ConfigWatcher, type WatchedConfig } from '../config/watch.js';
import { compilePlan, type CompilePlanOptions } from '../compile/compile-plan.js';
import type { MeshPlan } from '../compile/plan-types.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import { MeshletError } from '../errors/meshlet-error.js';

/** The plan and the snapshot it came from, swapped together as one reference. */
export interface PlanState {
  readonly plan: MeshPlan;
  readonly snapshot: ConfigSnapshot;
  /** The watcher's content hash of the files (`none` without config), for proxy-status. */
  readonly hash: string;
  /** Epoch ms the snapshot was loaded. */
  readonly loadedAt: number;
}

export interface PlanSourceHooks {
  reload(next: PlanState, previous: PlanState): void;
  rejected(snapshot: ConfigSnapshot, reasons: readonly string[]): void;
}

/** Where a mesh's plan comes from: a config watcher, or nothing (pass-through). */
export interface PlanSource {
  readonly current: PlanState;
  close(): Promise<void>;
}

/** How many diagnostics a start-up error message lists before "and N more". */
const LISTED = 5;

/**
 * `MESHLET_ERR_CONFIG_INVALID` for a config with errors: `what` (the call refusing it) and
 * the first errors in the message, every diagnostic in `details.diagnostics`.
 */
export function configInvalid(what: string, diagnostics: readonly Diagnostic[]): MeshletError {
  const errors = diagnostics.filter((d) => d.level === 'Error');
  const lines = errors.slice(0, LISTED).map((d) => `  ${formatDiagnostic(d)}`);
  if (errors.length > LISTED) lines.push(`  ... and ${errors.length - LISTED} more`);
  return new MeshletError(
    'MESHLET_ERR_CONFIG_INVALID',
    `${what}: the configuration has ${errors.length} error(s):\n${lines.join('\n')}`,
    { diagnostics },
  );
}

interface SourceOptions {
  readonly sources: readonly string[];
  readonly workload: WorkloadIdentity;
  readonly compile: CompilePlanOptions;
  readonly meshConfig: Partial<MeshConfig> | undefined;
  readonly debounceMs: number | undefined;
}

/**
 * Loads the config once (rejecting with `MESHLET_ERR_CONFIG_INVALID` when it has
 * errors), compiles the plan, and watches: each good reload is compiled in the
 * watcher's `accept` step, so a config that loads but does not compile is rejected
 * like a bad one and the last good plan stays, as Istio keeps the last good xDS push.
 */
export async function startPlanSource(options: SourceOptions, hooks: PlanSourceHooks): Promise<PlanSource> {
  const compile = (snapshot: ConfigSnapshot): MeshPlan =>
    compilePlan(snapshot, options.workload, options.compile);
  if (options.sources.length === 0) {
    const snapshot = loadConfigText([], { meshConfig: options.meshConfig ?? {} });
    const state: PlanState = { plan: compile(snapshot), snapshot, hash: 'none', loadedAt: Date.now() };
    return { current: state, close: () => Promise.resolve() };
  }

  const compiled = new WeakMap<ConfigSnapshot, MeshPlan>();
  const accept = (next: WatchedConfig): readonly string[] => {
    try {
      compiled.set(next.snapshot, compile(next.snapshot));
      return [];
    } catch (err) {
      return [err instanceof Error ? err.message : String(err)];
    }
  };
  const watchOptions = {
    accept,
    ...(options.meshConfig !== undefined ? { meshConfig: options.meshConfig } : {}),
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
  };
  const watcher: ConfigWatcher = await watchConfig(options.sources, watchOptions);
  const first = watcher.current.snapshot;
  if (hasErrors(first.diagnostics)) {
    await watcher.close();
    throw configInvalid('createMesh', first.diagnostics);
  }
  let state: PlanState;
  try {
    state = {
      plan: compile(first),
      snapshot: first,
      hash: watcher.current.hash,
      loadedAt: watcher.current.loadedAt,
    };
  } catch (err) {
    await watcher.close();
    throw err;
  }
  watcher.on('reload', (next) => {
    const plan = compiled.get(next.snapshot) ?? compile(next.snapshot);
    const previous = state;
    state = { plan, snapshot: next.snapshot, hash: next.hash, loadedAt: next.loadedAt };
    hooks.reload(state, previous);
  });
  watcher.on('rejected', (attempt, reasons) => hooks.rejected(attempt.snapshot, reasons));
  return {
    get current() {
      return state;
    },
    close: () => watcher.close(),
  };
}
