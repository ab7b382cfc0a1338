import type { Resource } from '../config/resource.js';
import type { SidecarSpec } from '../config/schema/sidecar.js';
import type { VirtualServiceIn } from './spec-types.js';
import { compareByCreation, hostMatches, resolveShortName } from './hosts.js';
import type { Service } from './plan-types.js';
import type { SelectedVirtualService } from './vs-selection.js';
import type { WorkloadIdentity } from './workload.js';

/** The egress hosts of one listener, by namespace (`*` for any); `~` entries exclude. */
interface HostsByNamespace {
  readonly imported: Map<string, string[]>;
  readonly excluded: Map<string, string[]>;
}

/**
 * One `egress` listener: its port (null: every port no other listener names) and hosts. An
 * HTTP_PROXY listener proxies for every port, beside the others.
 */
interface EgressListener {
  readonly port: number | null;
  readonly httpProxy: boolean;
  readonly hosts: HostsByNamespace;
}

/** What the Sidecar resource that applies to a workload changes in its plan. */
export interface SidecarScope {
  /** The Sidecar applied; null when none does (every service and VirtualService is visible). */
  readonly sidecar: { readonly namespace: string; readonly name: string } | null;
  /** `outboundTrafficPolicy.mode` (a policy without one is REGISTRY_ONLY); null: meshConfig's. */
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY' | null;
  /** The VirtualServices this workload's egress listeners import, in the order given. */
  virtualServices(selected: readonly SelectedVirtualService[]): SelectedVirtualService[];
  /**
   * Whether the listener that serves `port` imports `vs`: each port's routes come from its
   * own listener's VirtualServices (sidecar.go `GetEgressListenerForRDS`).
   */
  importsVsOn(vs: SelectedVirtualService, port: number): boolean;
  /**
   * The services (with the ports) its egress listeners and those VirtualServices import;
   * `byName` finds a delegate VirtualService (`ns/name`), whose routes count as its root's.
   */
  services(
    registry: ReadonlyMap<string, Service>,
    virtualServices: readonly SelectedVirtualService[],
    byName: ReadonlyMap<string, Resource>,
  ): Map<string, Service>;
}

const ALL_VISIBLE: SidecarScope = {
  sidecar: null,
  outboundTrafficPolicy: null,
  virtualServices: (selected) => [...selected],
  importsVsOn: () => true,
  services: (registry) => new Map(registry),
};

/**
 * The Sidecar that applies to a workload (push_context.go `getSidecarScope`, `initSidecarScopes`):
 * in its namespace, the oldest whose `workloadSelector` labels the workload has, else the
 * oldest without a selector; else the oldest without a selector in the mesh's root
 * namespace. A gateway has none (`DefaultSidecarScopeForGateway`).
 */
export function selectSidecar(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): Resource | null {
  const sidecars = resources.filter((r) => r.kind === 'Sidecar').sort(compareByCreation);
  const selector = (r: Resource) => (r.spec as SidecarSpec).workloadSelector;
  const inNamespace = sidecars.filter((r) => r.metadata.namespace === workload.namespace);
  const selecting = inNamespace.find((r) => {
    const labels = selector(r)?.labels;
    return (
      selector(r) !== undefined && Object.entries(labels ?? {}).every(([k, v]) => workload.labels[k] === v)
    );
  });
  return (
    selecting ??
    inNamespace.find((r) => selector(r) === undefined) ??
    sidecars.find((r) => r.metadata.namespace === rootNamespace && selector(r) === undefined) ??
    null
  );
}

/**
 * The scope of the Sidecar that applies to `workload` (sidecar.go `convertToSidecarScope`):
 * `.` in its egress hosts is the workload's namespace, also for the root namespace's
 * Sidecar; without `egress`, one listener imports `*\/*`.
 */
export function sidecarScope(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): SidecarScope {
  const resource = selectSidecar(resources, workload, rootNamespace);
  if (resource === null) return ALL_VISIBLE;
  const spec = resource.spec as SidecarSpec;
  const egress = (spec.egress?.length ?? 0) > 0 ? (spec.egress ?? []) : [{ hosts: ['*/*'] }];
  const listeners: EgressListener[] = egress.map((e) => {
    const port = 'port' in e ? e.port : undefined;
    const httpProxy = port?.protocol?.toUpperCase() === 'HTTP_PROXY';
    return {
      port: httpProxy || port?.number === undefined || port.number === 0 ? null : port.number,
      httpProxy,
      hosts: classify(e.hosts, workload.namespace),
    };
  });
  const tp = spec.outboundTrafficPolicy;
  return {
    sidecar: { namespace: resource.metadata.namespace, name: resource.metadata.name },
    // The proto's default mode is REGISTRY_ONLY (sidecar.proto OutboundTrafficPolicy.Mode).
    outboundTrafficPolicy: tp === undefined ? null : (tp.mode ?? 'REGISTRY_ONLY'),
    virtualServices: (selected) => selected.filter((vs) => listeners.some((l) => importsVs(l.hosts, vs))),
    importsVsOn: (vs, port) => listenersOn(listeners, port).some((l) => importsVs(l.hosts, vs)),
    services: (registry, virtualServices, byName) =>
      importServices(registry, virtualServices, byName, listeners, workload),
  };
}

/**
 * The listeners that serve `port` (sidecar.go `GetEgressListenerForRDS`): the one naming the
 * port, else the one without a port; and any HTTP_PROXY listener, which proxies for every
 * port (`needsPortMatch` is false for it).
 */
function listenersOn(listeners: readonly EgressListener[], port: number): EgressListener[] {
  const own =
    listeners.find((l) => !l.httpProxy && l.port === port) ??
    listeners.find((l) => !l.httpProxy && l.port === null);
  const proxies = listeners.filter((l) => l.httpProxy);
  return own === undefined ? proxies : [own, ...proxies];
}

/** sidecar.go `convertIstioListenerToWrapper`: `ns/host` entries by namespace, `~` excluding. */
function classify(hosts: readonly string[], namespace: string): HostsByNamespace {
  const imported = new Map<string, string[]>();
  const excluded = new Map<string, string[]>();
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash < 0 || h.indexOf('/', slash + 1) >= 0) continue;
    let ns = h.slice(0, slash);
    const name = h.slice(slash + 1).toLowerCase();
    const exclude = ns.startsWith('~');
    if (exclude) ns = ns.slice(1) === '' ? '*' : ns.slice(1);
    if (ns === '.') ns = namespace;
    const into = exclude ? excluded : imported;
    const list = into.get(ns);
    if (list === undefined) into.set(ns, [name]);
    else list.push(name);
  }
  return { imported, excluded };
}

/** `hostClassification.Excluded`: under a `~` entry of the namespace or of `*`. */
function excludedHost(hosts: HostsByNamespace, namespace: string, h: string): boolean {
  return [namespace, '*'].some((ns) => (hosts.excluded.get(ns) ?? []).some((x) => hostMatches(x, h)));
}

/** `hostClassification.Matches`: the service's host falls under an imported host. */
function importsHost(hosts: HostsByNamespace, namespace: string, h: string): boolean {
  if (excludedHost(hosts, namespace, h)) return false;
  return [namespace, '*'].some((ns) => (hosts.imported.get(ns) ?? []).some((x) => hostMatches(x, h)));
}

/**
 * virtualservice.go `SelectVirtualServices`: a VirtualService is imported when one of its
 * hosts not excluded matches an imported host of its namespace or of `*`, either way round
 * (`host.Name.Matches`, the semantics of Istio's own VirtualServices).
 */
function importsVs(hosts: HostsByNamespace, vs: SelectedVirtualService): boolean {
  const ns = vs.resource.metadata.namespace;
  return vs.hosts.some((h) => {
    if (excludedHost(hosts, ns, h)) return false;
    return [ns, '*'].some((n) =>
      (hosts.imported.get(n) ?? []).some((x) => hostMatches(x, h) || hostMatches(h, x)),
    );
  });
}

/**
 * sidecar.go `selectServices` and `collectImportedServices`: each listener imports the
 * services whose host its hosts take (a listener with a port, only that port of them);
 * then the destinations of the VirtualServices it imports, which no host named, with the
 * ports the routes give (all when one names none; the listener's port on a port listener).
 */
function importServices(
  registry: ReadonlyMap<string, Service>,
  virtualServices: readonly SelectedVirtualService[],
  byName: ReadonlyMap<string, Resource>,
  listeners: readonly EgressListener[],
  workload: WorkloadIdentity,
): Map<string, Service> {
  const ports = new Map<string, Set<number>>();
  const add = (svc: Service, numbers: readonly number[]) => {
    if (numbers.length === 0) return;
    const set = ports.get(svc.host) ?? new Set<number>();
    for (const n of numbers) set.add(n);
    ports.set(svc.host, set);
  };
  // The service's ports this listener serves.
  const onListener = (svc: Service, l: EgressListener): number[] =>
    svc.ports.map((p) => p.number).filter((n) => listenersOn(listeners, n).includes(l));
  // sidecar.go matchingAliasService: an imported service keeps the ExternalName aliases the
  // listener imports too (an alias's namespace is its Service's).
  const aliases = new Map<string, Set<string>>();
  for (const l of listeners)
    for (const svc of registry.values()) {
      if (!importsHost(l.hosts, svc.namespace, svc.host)) continue;
      add(svc, onListener(svc, l));
      const kept = aliases.get(svc.host) ?? new Set<string>();
      for (const a of svc.aliases ?? []) if (importsHost(l.hosts, a.split('.')[1] ?? '', a)) kept.add(a);
      aliases.set(svc.host, kept);
    }
  const named = new Set(ports.keys());
  for (const l of listeners) {
    for (const vs of virtualServices) {
      if (!importsVs(l.hosts, vs)) continue;
      for (const [host, wanted] of destinationsOf(vs.resource, workload.namespace, byName)) {
        const svc = registry.get(host);
        if (svc === undefined || named.has(host)) continue;
        const numbers = onListener(svc, l).filter((n) => l.port !== null || wanted.has(0) || wanted.has(n));
        add(svc, numbers);
      }
    }
  }
  const out = new Map<string, Service>();
  for (const [host, svc] of registry) {
    const visible = ports.get(host);
    if (visible === undefined) continue;
    const kept = aliases.get(host);
    const trimmed =
      kept === undefined || svc.aliases === undefined || kept.size === svc.aliases.length
        ? {}
        : { aliases: svc.aliases.filter((a) => kept.has(a)) };
    out.set(
      host,
      visible.size === svc.ports.length && Object.keys(trimmed).length === 0
        ? svc
        : { ...svc, ...trimmed, ports: svc.ports.filter((p) => visible.has(p.number)) },
    );
  }
  return out;
}

/**
 * push_context.go `virtualServiceDestinationsFilteredBySourceNamespace`: the hosts of the
 * routes and mirrors of its http rules (those whose matches do not all name another
 * `sourceNamespace`), of the delegates they name (istiod merges them into their root
 * first), and of its tcp and tls rules, each with its port (0: none given).
 */
function destinationsOf(
  vs: Resource,
  namespace: string,
  byName: ReadonlyMap<string, Resource>,
  out = new Map<string, Set<number>>(),
  seen = new Set<Resource>(),
): Map<string, Set<number>> {
  if (seen.has(vs)) return out;
  seen.add(vs);
  const vsNs = vs.metadata.namespace;
  const add = (d: Destination | undefined) => {
    if (d === undefined) return;
    const host = resolveShortName(d.host, vsNs);
    const set = out.get(host) ?? new Set<number>();
    set.add(d.port?.number ?? 0);
    out.set(host, set);
  };
  const spec = vs.spec as VirtualServiceIn & {
    tcp?: readonly { route?: readonly { destination: Destination }[] }[];
    tls?: readonly { route?: readonly { destination: Destination }[] }[];
  };
  for (const rule of spec.http ?? []) {
    const named = (rule.match ?? []).filter((m) => (m.sourceNamespace ?? '') !== '');
    if (named.length > 0 && named.every((m) => m.sourceNamespace !== namespace)) continue;
    for (const r of rule.route ?? []) add(r.destination);
    add(rule.mirror);
    for (const m of rule.mirrors ?? []) add(m.destination);
    const d = rule.delegate;
    const delegate = d === undefined ? undefined : byName.get(`${d.namespace ?? vsNs}/${d.name}`);
    if (delegate !== undefined) destinationsOf(delegate, namespace, byName, out, seen);
  }
  for (const rule of [...(spec.tcp ?? []), ...(spec.tls ?? [])])
    for (const r of rule.route ?? []) add(r.destination);
  return out;
}

type Destination = { readonly host: string; readonly port?: { readonly number?: number } | undefined };
