import type { Cluster, Endpoint } from '../../compile/plan-types.js';
import type { ClusterPolicy } from '../../compile/traffic-policy.js';
import type { Clock } from '../../runtime/clock.js';
import type { Random } from '../../runtime/random.js';
import { ConnectionPool, type OverflowReason } from './connection-pool.js';
import { emitSafely, type UpstreamEventSink } from './events.js';
import { eligibleHosts } from './healthy-hosts.js';
import { HostState, hostId } from './host-state.js';
import { createPicker, pickerKey } from './load-balancer.js';
import { OutlierDetector } from './outlier-detector.js';
import { PrioritySet } from './priority-set.js';
import { assignLocalities } from '../../compile/locality-priority.js';
import type { HostPicker, SkipHost } from './picker.js';
import { sameSlowStart, SlowStart } from './slow-start.js';
import type {
  Admission,
  AttemptOutcome,
  PickContext,
  UpstreamCluster,
  UpstreamClusterStats,
  UpstreamHost,
} from './types.js';

export interface ClusterDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly sink: UpstreamEventSink | undefined;
}

/** Envoy's `healthy_panic_threshold` default, kept when there is no outlierDetection. */
const ENVOY_PANIC_THRESHOLD = 50;
const NOOP = (): void => {};

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.port !== y.port || x.weight !== y.weight) return false;
  }
  return true;
}

/**
 * The runtime side of one plan cluster: hosts with their state, the load balancer, the
 * connection-pool limits and outlier detection (spec/traffic.md §2). Long-lived: plan
 * reloads call `update`, which keeps the state of hosts that remain.
 */
export class RuntimeCluster implements UpstreamCluster {
  readonly key: string;
  readonly hosts = (): readonly UpstreamHost[] => this.#hosts;
  readonly #deps: ClusterDeps;
  #cluster: Cluster;
  #endpoints: readonly Endpoint[];
  #hosts: readonly HostState[] = [];
  readonly #byId = new Map<string, HostState>();
  /** Bumped whenever the eligible set may have changed (hosts, ejections, panic threshold). */
  #version = 0;
  #eligible: readonly HostState[] = [];
  #eligibleVersion = -1;
  #picker: HostPicker;
  #pickerKey: string;
  /** Hosts split by locality priority; null when locality load balancing does not apply. */
  #priorities: PrioritySet | null = null;
  readonly #pool: ConnectionPool;
  #detector: OutlierDetector | null = null;
  /** `loadBalancer.warmup` (slow-start.ts); null without one. */
  #slowStart: SlowStart | null = null;
  #closed = false;
  readonly #counts = { pendingOverflow: 0, maxRequestsOverflow: 0, retryOverflow: 0 };

  constructor(cluster: Cluster, endpoints: readonly Endpoint[], deps: ClusterDeps) {
    this.key = cluster.key;
    this.#deps = deps;
    this.#cluster = cluster;
    this.#endpoints = endpoints;
    this.#picker = createPicker(cluster.policy.loadBalancer, deps.random);
    this.#pickerKey = pickerKey(cluster.policy.loadBalancer);
    this.#pool = new ConnectionPool(cluster.policy, (reason) => this.#overflow(reason));
    this.#setHosts(endpoints);
    this.#applySlowStart(cluster.policy, true);
    this.#applyOutlier(cluster.policy);
  }

  /** The priority set in use, null without locality load balancing (tests). */
  get prioritySet(): PrioritySet | null {
    return this.#priorities;
  }

  /** A new plan (or new DNS answers) for the same cluster key. */
  update(cluster: Cluster, endpoints: readonly Endpoint[]): void {
    if (cluster === this.#cluster && endpoints === this.#endpoints) return;
    const before = this.#cluster;
    this.#cluster = cluster;
    if (cluster.policy !== before.policy) this.#applyPolicy(cluster.policy);
    if (!sameEndpoints(endpoints, this.#endpoints)) this.#setHosts(endpoints);
    else if (cluster.policy !== before.policy || cluster.localityLb !== before.localityLb)
      this.#applyLocality();
    this.#endpoints = endpoints;
  }

  pick(ctx: PickContext): UpstreamHost | null {
    const od = this.#cluster.policy.outlierDetection;
    const panicThreshold = od === null ? ENVOY_PANIC_THRESHOLD : od.minHealthPercent;
    if (this.#priorities !== null)
      return this.#priorities.pick(this.#version, panicThreshold, ctx.exclude, ctx.hashKey);
    if (this.#eligibleVersion !== this.#version) {
      this.#eligible = eligibleHosts(this.#hosts, panicThreshold);
      this.#eligibleVersion = this.#version;
    }
    const hosts = this.#eligible;
    if (hosts.length === 0) return null;
    let skip: SkipHost = null;
    const exclude = ctx.exclude;
    // Every host already tried: pick among all of them rather than fail.
    if (exclude.size > 0 && hosts.some((h) => !exclude.has(h.id))) skip = (h) => exclude.has(h.id);
    return this.#picker.pick(hosts, this.#version, skip, ctx.hashKey);
  }

  admit(signal: AbortSignal | null): Promise<Admission> {
    return this.#pool.admit(signal);
  }

  tryAdmit(): Admission | null {
    return this.#pool.tryAdmit();
  }

  admitStream(): Admission {
    return this.#pool.admitStream();
  }

  admitRetry(): { ok: boolean; release(): void } {
    return this.#pool.admitRetry();
  }

  begin(host: UpstreamHost): () => void {
    const h = this.#own(host);
    if (h === null) return NOOP;
    h.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      h.active--;
    };
  }

  record(host: UpstreamHost, outcome: AttemptOutcome): void {
    const h = this.#own(host);
    if (h !== null) this.#detector?.record(h, outcome);
  }

  stats(): UpstreamClusterStats {
    return Object.freeze({
      ...this.#counts,
      ejectionsTotal: this.#detector?.ejectionsTotal ?? 0,
      ejectedNow: this.#detector?.ejectedNow ?? 0,
    });
  }

  /** Stops the sweep timer and releases the host breakers. */
  close(): void {
    this.#closed = true;
    this.#detector?.shutdown();
  }

  /** Only hosts of the current endpoint set count (a result may arrive after a reload). */
  #own(host: UpstreamHost): HostState | null {
    const h = this.#byId.get(host.id);
    return h === host ? h : null;
  }

  #setHosts(endpoints: readonly Endpoint[]): void {
    const next: HostState[] = [];
    const seen = new Set<string>();
    for (const e of endpoints) {
      const id = hostId(e);
      if (seen.has(id)) continue;
      seen.add(id);
      let h = this.#byId.get(id);
      if (h === undefined) {
        h = new HostState(e);
        this.#slowStart?.hostAdded(h);
      }
      h.endpoint = e;
      next.push(h);
    }
    for (const [id, h] of this.#byId) {
      if (!seen.has(id)) {
        this.#detector?.hostRemoved(h);
        this.#byId.delete(id);
      }
    }
    for (const h of next) this.#byId.set(h.id, h);
    this.#hosts = next;
    this.#version++;
    this.#applyLocality();
  }

  /** Ranks the hosts by locality for the plan's workload (istiod's EDS priorities), when that applies. */
  #applyLocality(): void {
    const lb = this.#cluster.localityLb ?? null;
    this.#priorities = null;
    if (lb === null || this.#hosts.length === 0) return;
    const assignment = assignLocalities(
      this.#hosts.map((h) => h.endpoint),
      lb,
    );
    if (!assignment.applies) return;
    this.#priorities = new PrioritySet(
      this.#hosts,
      lb.proxy,
      assignment,
      lb.localityWeighted,
      this.#cluster.policy.loadBalancer,
      this.#deps.random,
      lb.zoneRouting ?? null,
    );
  }

  #applyPolicy(policy: ClusterPolicy): void {
    const key = pickerKey(policy.loadBalancer);
    const newPicker = key !== this.#pickerKey;
    if (newPicker) {
      this.#picker = createPicker(policy.loadBalancer, this.#deps.random);
      this.#pickerKey = key;
    }
    this.#applySlowStart(policy, newPicker);
    this.#pool.setPolicy(policy);
    this.#applyOutlier(policy);
    // The panic threshold may have changed.
    this.#version++;
  }

  /**
   * A new or changed slow-start setting is a new Envoy balancer (istiod pushes a changed
   * cluster, which Envoy rebuilds): every current host starts warming now, together. An
   * unchanged one keeps its hosts' starts. (Changing the picker changes the version.)
   */
  #applySlowStart(policy: ClusterPolicy, rebuilt: boolean): void {
    const warmup = policy.loadBalancer.warmup;
    if (!rebuilt && sameSlowStart(warmup, this.#slowStart?.policy ?? null)) return;
    this.#slowStart = warmup === null ? null : new SlowStart(warmup, this.#deps.clock, this.#hosts);
    if (this.#slowStart === null) for (const h of this.#hosts) h.slowStart = null;
  }

  #applyOutlier(policy: ClusterPolicy): void {
    const od = policy.outlierDetection;
    if (od === null) {
      if (this.#detector !== null) {
        this.#detector.disable();
        this.#detector = null;
      }
      return;
    }
    if (this.#detector !== null) {
      this.#detector.setPolicy(od);
      return;
    }
    if (this.#closed) return;
    this.#detector = new OutlierDetector(od, {
      cluster: this.key,
      clock: this.#deps.clock,
      sink: this.#deps.sink,
      hosts: () => this.#hosts,
      changed: () => this.#version++,
    });
  }

  #overflow(reason: OverflowReason): void {
    if (reason === 'pending-overflow') this.#counts.pendingOverflow++;
    else if (reason === 'max-requests') this.#counts.maxRequestsOverflow++;
    else this.#counts.retryOverflow++;
    const sink = this.#deps.sink;
    if (sink !== undefined) emitSafely(sink, { type: 'overflow', cluster: this.key, reason });
  }
}
