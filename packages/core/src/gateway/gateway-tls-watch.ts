import { watch, type FSWatcher } from 'node:fs';
import type { MeshPlan } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { GatewayServerHandle } from './gateway-server.js';

/** What `mesh.listenGateway`'s certificate following reports (the mesh's `gatewayTls` event). */
export type GatewayTlsEvent =
  | { readonly type: 'rotated'; readonly port: number }
  | {
      /** New certificates or Gateway settings could not be used: the old ones stay in use. */
      readonly type: 'rejected';
      readonly port: number;
      readonly reason: string;
    };

/** Quiet time after the last file event before re-reading, as for workload certificates. */
const DEBOUNCE_MS = 100;

/**
 * Keeps a gateway listener's certificates current, as Envoy's SDS does for a gateway:
 * the credential directories are watched (Kubernetes swaps a secret volume's `..data`
 * symlink), and `trigger` (a config reload, a workload certificate rotation) re-reads
 * them too. A good set takes over for new handshakes (`rotated`); an unusable one is
 * `rejected` with the reason and the old set stays.
 */
export function followGatewayTls(options: {
  readonly handle: Pick<GatewayServerHandle, 'port' | 'sources' | 'refresh'>;
  readonly getPlan: () => MeshPlan;
  readonly clock: Clock;
  readonly onEvent: (event: GatewayTlsEvent) => void;
}): { readonly trigger: () => void; readonly close: () => void } {
  const { handle, clock, onEvent } = options;
  let watchers: FSWatcher[] = [];
  let watched = '';
  let timer: unknown = null;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  const rewatch = (): void => {
    const dirs = handle.sources();
    const key = dirs.join('\n');
    if (key === watched) return;
    for (const w of watchers) w.close();
    watched = key;
    watchers = [];
    for (const dir of dirs) {
      try {
        watchers.push(watch(dir, { persistent: false }, trigger));
      } catch (err) {
        onEvent({
          type: 'rejected',
          port: handle.port,
          reason: `cannot watch ${dir}: ${(err as Error).message}`,
        });
      }
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      if (await handle.refresh(options.getPlan())) onEvent({ type: 'rotated', port: handle.port });
    } catch (err) {
      onEvent({
        type: 'rejected',
        port: handle.port,
        reason: err instanceof Error ? err.message : String(err),
      });
    }
    if (!closed) rewatch();
  };

  function trigger(): void {
    if (closed) return;
    if (timer !== null) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => {
      timer = null;
      running = running.then(refresh);
    }, DEBOUNCE_MS);
  }

  rewatch();
  return {
    trigger,
    close: () => {
      closed = true;
      if (timer !== null) clock.clearTimeout(timer);
      for (const w of watchers) w.close();
      watchers = [];
    },
  };
}
