import type { GlobalRateLimitPlan } from '../compile/inbound-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { RateLimitAnswer } from '../inbound/ratelimit/global-rate-limit.js';
import {
  createRateLimitService,
  type InMemoryRateLimitService,
  type RateLimitCall,
  type RateLimitConfigInput,
} from './rate-limit-service.js';

/** A rate limit service in the mock mesh (`mm.rateLimitService`). */
export interface MockRateLimitService {
  /** The host the filters' cluster names, e.g. `ratelimit.default.svc.cluster.local`. */
  readonly host: string;
  /** Every ShouldRateLimit the mesh's filters sent it, in order. */
  readonly calls: readonly RateLimitCall[];
  /** Replaces its configuration, as a ConfigMap reload does; the counters stay. */
  setConfig(config: RateLimitConfigInput): void;
  /** Fails every call from now on, as a service that is down: each filter's failure mode decides. */
  down(): void;
  /** Answers again. */
  up(): void;
}

export interface MockRateLimitOptions {
  /** envoyproxy/ratelimit's SHADOW_MODE: an overall OVER_LIMIT is answered OK. */
  readonly globalShadowMode?: boolean;
}

interface Registered {
  readonly service: InMemoryRateLimitService;
  readonly calls: RateLimitCall[];
  up: boolean;
}

/** The host a filter's service cluster sends to: an Istio cluster's service, a patched cluster's first endpoint. */
function hostOf(filter: GlobalRateLimitPlan): string | null {
  const s = filter.service;
  if (s.kind === 'mesh') return s.host;
  if (s.kind === 'static') return s.endpoints[0]?.address ?? null;
  return null;
}

/**
 * The mock mesh's rate limit services: envoyproxy/ratelimit's semantics in memory, on the
 * virtual clock, answering the global rate limit filters of every workload and gateway whose
 * service is theirs. A filter whose service has none fails its call, as an unreachable
 * service does.
 */
export class MockRateLimitServices {
  readonly #byHost = new Map<string, Registered>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  add(host: string, config: RateLimitConfigInput, options: MockRateLimitOptions = {}): MockRateLimitService {
    if (typeof host !== 'string' || host === '')
      throw new MeshletError(
        'MESHLET_ERR_MESH_OPTIONS',
        'mm.rateLimitService needs the host its filters call',
        {
          option: 'host',
        },
      );
    if (this.#byHost.has(host))
      throw new MeshletError('MESHLET_ERR_MESH_OPTIONS', `a rate limit service already answers for ${host}`, {
        option: 'host',
      });
    const service = createRateLimitService({
      config,
      now: this.#now,
      ...(options.globalShadowMode === undefined ? {} : { globalShadowMode: options.globalShadowMode }),
    });
    const r: Registered = { service, calls: [], up: true };
    this.#byHost.set(host, r);
    return {
      host,
      get calls() {
        return r.calls;
      },
      setConfig: (c) => service.setConfig(c),
      down: () => {
        r.up = false;
      },
      up: () => {
        r.up = true;
      },
    };
  }

  readonly answer: RateLimitAnswer = (filter, descriptors) => {
    const host = hostOf(filter);
    const r = host === null ? undefined : this.#byHost.get(host);
    if (r === undefined)
      return Promise.resolve(
        host === null
          ? 'the filter names a cluster this proxy does not have'
          : `no rate limit service answers for ${host} in the mock mesh (mm.rateLimitService)`,
      );
    const call: RateLimitCall = { domain: filter.config.domain, descriptors };
    r.calls.push(call);
    if (!r.up) return Promise.resolve(`the rate limit service ${host} is down`);
    try {
      return Promise.resolve(r.service.shouldRateLimit(call));
    } catch (err) {
      return Promise.resolve(err instanceof Error ? err.message : String(err));
    }
  };
}
