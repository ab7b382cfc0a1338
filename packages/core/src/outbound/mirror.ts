import type { Mirror, OutboundPlan } from '../compile/plan-types.js';
import type { Random } from '../runtime/random.js';
import type { Transport, TransportTls } from './transport.js';
import type { ClusterManager, UpstreamHost } from './upstream/types.js';
import type { Cluster } from '../compile/plan-types.js';
import type { HeaderRecord } from './request-input.js';
import type { Clock } from '../runtime/clock.js';
import { fires } from './fault.js';
import { runTry } from './attempt.js';

/** What a shadow copy needs. */
export interface MirrorDeps {
  readonly transport: Transport;
  readonly clusters: ClusterManager;
  readonly clock: Clock;
  readonly random: Random;
  readonly tlsFor: ((cluster: Cluster, host: UpstreamHost) => TransportTls | null) | null;
}

const NO_HOSTS: ReadonlySet<string> = new Set();

/** Envoy appends `-shadow` to the host part of the mirrored authority (`a:8080` → `a-shadow:8080`). */
export function shadowAuthority(authority: string): string {
  const m = /^(.*?)(:\d+)?$/.exec(authority);
  return m === null ? `${authority}-shadow` : `${m[1] ?? ''}-shadow${m[2] ?? ''}`;
}

/**
 * `HTTPRoute.mirror`/`mirrors`: fire-and-forget copies, each sent with its own
 * `percentage` draw, Host suffixed `-shadow`, through the mirror cluster's pool and
 * outlier detection, the response discarded. Never affects the primary response and
 * never throws (istio route.go `MirrorPercent`; envoy `request_mirror_policies`).
 */
export function sendMirrors(
  deps: MirrorDeps,
  plan: OutboundPlan,
  mirrors: readonly Mirror[],
  method: string,
  path: string,
  headers: Readonly<HeaderRecord>,
  body: Buffer | null,
): void {
  for (const m of mirrors) {
    if (!fires(m.percent, deps.random)) continue;
    const cluster = plan.cluster(m.cluster);
    if (cluster === null || cluster.status !== 'ok') continue;
    try {
      const upstream = deps.clusters.get(cluster);
      const host = upstream.pick({ exclude: NO_HOSTS, hashKey: null });
      if (host === null) continue;
      const authority = headers['host'];
      const shadowHeaders: HeaderRecord = { ...headers };
      if (typeof authority === 'string') shadowHeaders['host'] = shadowAuthority(authority);
      runTry(
        {
          transport: deps.transport,
          clock: deps.clock,
          cluster,
          upstream,
          tlsFor: deps.tlsFor,
          callerSignal: null,
          deadline: null,
          perTryMs: null,
          state: null,
        },
        host,
        { method, path, headers: shadowHeaders, body },
        1,
      ).then(
        (r) => {
          if (r.kind === 'response') r.response.body.resume();
        },
        () => {},
      );
    } catch {
      // A mirror never affects the primary request.
    }
  }
}
