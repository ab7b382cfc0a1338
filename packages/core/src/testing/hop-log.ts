import type { MeshFetchInit } from '../outbound/client.js';
import type { MeshResponse } from '../outbound/response.js';
import type { Clock } from '../runtime/clock.js';
import type { MockNetwork } from './mock-network.js';
import type { MockHop } from './types.js';

export type Fetch = (url: string | URL, init?: MeshFetchInit) => Promise<MeshResponse>;

/**
 * `fetch` as a workload of the mock mesh calls it: counted as in flight (virtual time
 * may pass while it waits) and written to the hop log when it answers or fails, with
 * where it went (host, subset, the pod's workload), its status, flags, attempts and
 * virtual duration.
 */
export function hopLogged(
  source: string,
  fetch: Fetch,
  deps: { readonly clock: Clock; readonly network: MockNetwork; readonly log: MockHop[] },
): Fetch {
  const { clock, network, log } = deps;
  return (url, init) =>
    network.track(async () => {
      const start = clock.now();
      const hop = { source, method: (init?.method ?? 'GET').toUpperCase(), url: String(url), start };
      try {
        const res = await fetch(url, init);
        const up = res.meshlet.upstream;
        log.push({
          ...hop,
          destination:
            up === null
              ? null
              : {
                  host: up.host,
                  subset: up.subset,
                  address: up.address,
                  workload: network.workloadAt(up.address),
                },
          status: res.status,
          flags: res.meshlet.flags,
          attempts: res.meshlet.attempts,
          duration: clock.now() - start,
          error: null,
        });
        return res;
      } catch (err) {
        log.push({
          ...hop,
          destination: null,
          status: null,
          flags: [],
          attempts: 0,
          duration: clock.now() - start,
          error: err instanceof Error ? err.message : String(err),
        });
        throw err;
      }
    });
}
