import { compilePlan } from '../compile/compile-plan.js';
import type { IstiodFeatures } from '../compile/istiod-features.js';
import type { StaticEndpoint } from '../compile/registry.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { PlanSource, PlanSourceHooks, PlanState } from '../mesh/plan-source.js';

interface Subscriber {
  readonly workload: WorkloadIdentity;
  readonly hooks: PlanSourceHooks;
  state: PlanState;
}

/**
 * One config snapshot and one endpoint table for every workload of a mock mesh, as
 * istiod pushes one cluster's config to every sidecar: each workload's mesh reads its plan
 * here, and a change (`apply`, a service added) recompiles every plan and reloads each
 * mesh through its plan-source hooks, as a good xDS push would.
 */
export class MockTopology {
  #snapshot: ConfigSnapshot;
  #version = 0;
  readonly #endpoints = new Map<string, StaticEndpoint[]>();
  readonly #subscribers = new Set<Subscriber>();

  readonly #istiodFeatures: Partial<IstiodFeatures>;

  constructor(snapshot: ConfigSnapshot, istiodFeatures: Partial<IstiodFeatures> = {}) {
    this.#snapshot = snapshot;
    this.#istiodFeatures = istiodFeatures;
  }

  get snapshot(): ConfigSnapshot {
    return this.#snapshot;
  }

  /**
   * The ports of the Kubernetes Service for `host` in the config (`port`, and `targetPort`
   * when it is a number), or null when the config has none.
   */
  servicePorts(
    host: string,
  ): readonly { readonly port: number; readonly targetPort: number | null }[] | null {
    for (const p of this.#snapshot.platform) {
      if (p.kind !== 'Service' || `${p.metadata.name}.${p.metadata.namespace}.svc.cluster.local` !== host)
        continue;
      const ports = (p.body['spec'] as { ports?: { port?: unknown; targetPort?: unknown }[] } | undefined)
        ?.ports;
      return (ports ?? []).flatMap((x) =>
        typeof x.port === 'number'
          ? [{ port: x.port, targetPort: typeof x.targetPort === 'number' ? x.targetPort : null }]
          : [],
      );
    }
    return null;
  }

  /** The static endpoints every plan is compiled with, by service host. */
  endpoints(): Readonly<Record<string, readonly StaticEndpoint[]>> {
    return Object.fromEntries(this.#endpoints);
  }

  #compile(workload: WorkloadIdentity): PlanState {
    return {
      plan: compilePlan(this.#snapshot, workload, {
        endpoints: this.endpoints(),
        istiodFeatures: this.#istiodFeatures,
      }),
      snapshot: this.#snapshot,
      hash: `mock-${this.#version}`,
      loadedAt: Date.now(),
    };
  }

  /** A workload's plan source (`createMeshWith`'s `planSource`). */
  source(workload: WorkloadIdentity, hooks: PlanSourceHooks): PlanSource {
    const sub: Subscriber = { workload, hooks, state: this.#compile(workload) };
    this.#subscribers.add(sub);
    return {
      get current() {
        return sub.state;
      },
      close: () => {
        this.#subscribers.delete(sub);
        return Promise.resolve();
      },
    };
  }

  /** Add an endpoint of `host` and push the change. */
  addEndpoint(host: string, endpoint: StaticEndpoint): void {
    const list = this.#endpoints.get(host) ?? [];
    this.#endpoints.set(host, [...list, endpoint]);
    this.#push();
  }

  /** Remove the endpoint at `address` from `host` and push the change. */
  removeEndpoint(host: string, address: string): void {
    const list = (this.#endpoints.get(host) ?? []).filter((e) => e.address !== address);
    if (list.length === 0) this.#endpoints.delete(host);
    else this.#endpoints.set(host, list);
    this.#push();
  }

  /** Replace the config; every workload recompiles, a workload whose plan fails keeps its last one. */
  setSnapshot(snapshot: ConfigSnapshot): void {
    this.#snapshot = snapshot;
    this.#push();
  }

  #push(): void {
    this.#version++;
    for (const sub of this.#subscribers) {
      let next: PlanState;
      try {
        next = this.#compile(sub.workload);
      } catch (err) {
        sub.hooks.rejected(this.#snapshot, [err instanceof Error ? err.message : String(err)]);
        continue;
      }
      const previous = sub.state;
      sub.state = next;
      sub.hooks.reload(next, previous);
    }
  }
}
