import type { Resource } from '../config/resource.js';
import type { PlatformResource } from '../config/snapshot.js';
import { externalNameAliases } from './external-name-aliases.js';
import type { Endpoint, Service, ServicePort, ServiceProtocol, TrafficDistribution } from './plan-types.js';
import type { ServiceEntryIn, WorkloadEntryIn } from './spec-types.js';
import { DOMAIN_SUFFIX, compareByCreation, isVisibleTo, resolveShortName } from './hosts.js';
import { labelsMatch } from './workload.js';
import { localityLabel } from './locality.js';
import {
  endpointFromEntry,
  serviceWorkloadEntries,
  type KubernetesPort,
} from './workload-entry-endpoints.js';

/** A static endpoint passed to `compilePlan` beside ServiceEntry/WorkloadEntry. */
export interface StaticEndpoint {
  readonly address: string;
  readonly port: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  /** `region/zone/subzone`; unset = the `istio-locality` label's, if any. */
  readonly locality?: string;
}

/**
 * An entry's `locality`, else its `istio-locality` label with dots as separators (istio
 * serviceentry/conversion.go `convertWorkloadEntryToServiceInstances`, ~line 477;
 * kube controller.go `getPodLocality` for a pod).
 */
function withLabelLocality(e: Endpoint): Endpoint {
  if (e.locality !== null && e.locality !== '') return e;
  const fromLabel = localityLabel(e.labels);
  return fromLabel === null ? e : { ...e, locality: fromLabel };
}

function withLabelLocalities(byPort: Record<string, Endpoint[]>): Record<string, Endpoint[]> {
  for (const key of Object.keys(byPort)) byPort[key] = byPort[key]!.map(withLabelLocality);
  return byPort;
}

const PROTOCOLS: Readonly<Record<string, ServiceProtocol>> = {
  http: 'HTTP',
  http2: 'HTTP2',
  https: 'HTTPS',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-WEB',
  h2c: 'HTTP2',
  tcp: 'TCP',
  tls: 'TLS',
  mongo: 'MONGO',
  mysql: 'TCP',
  redis: 'TCP',
  udp: 'TCP',
};

/**
 * Istio's protocol selection for a Kubernetes Service port: `appProtocol`,
 * else the name prefix (`http-web`, `grpc`), else UNKNOWN (sniffed).
 */
export function portProtocol(name: string, appProtocol: string | undefined): ServiceProtocol {
  if (appProtocol !== undefined) {
    const p = PROTOCOLS[appProtocol.toLowerCase().replace(/^kubernetes\.io\//, '')];
    if (p !== undefined) return p;
  }
  const lower = name.toLowerCase();
  const exact = PROTOCOLS[lower];
  if (exact !== undefined) return exact;
  const dash = lower.indexOf('-');
  if (dash > 0) return PROTOCOLS[lower.slice(0, dash)] ?? 'UNKNOWN';
  return 'UNKNOWN';
}

/** HTTP routes (VirtualService `http`) apply to HTTP-family and sniffed ports. */
export function isHttpPort(p: ServicePort): boolean {
  return (
    p.protocol === 'HTTP' ||
    p.protocol === 'HTTP2' ||
    p.protocol === 'GRPC' ||
    p.protocol === 'GRPC-WEB' ||
    p.protocol === 'UNKNOWN'
  );
}

function seProtocol(p: string | undefined): ServiceProtocol {
  if (p === undefined) return 'UNKNOWN';
  const up = p.toUpperCase();
  return (
    (['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO'] as const).find((x) => x === up) ??
    'TCP'
  );
}

interface MutableService {
  host: string;
  namespace: string;
  source: Service['source'];
  resource: Service['resource'];
  addresses: string[];
  ports: ServicePort[];
  location: Service['location'];
  resolution: Service['resolution'];
  endpoints: Record<string, Endpoint[]>;
  subjectAltNames: readonly string[];
  trafficDistribution?: TrafficDistribution;
  selectsWorkloads?: boolean;
  aliases?: readonly string[];
}

const TRAFFIC_DISTRIBUTION_ANNOTATION = 'networking.istio.io/traffic-distribution';

/** An annotation's value as GetTrafficDistribution reads it (case-insensitive); null = unset or unknown (Any). */
function distributionOf(value: string | undefined): TrafficDistribution | null {
  switch (value?.toLowerCase()) {
    case 'preferclose':
    case 'prefersamezone':
      return 'PreferSameZone';
    case 'prefersamenode':
      return 'PreferSameNode';
    default:
      return null;
  }
}

/**
 * istio pilot/pkg/model/service.go GetTrafficDistribution: `spec.trafficDistribution`
 * (PreferClose and PreferSameZone alike; another value falls through), else the Service's
 * annotation, else its Namespace's; an unknown annotation value is Any.
 */
function trafficDistribution(
  specValue: string | undefined,
  annotations: Readonly<Record<string, string>>,
  namespaceAnnotations: Readonly<Record<string, string>> | undefined,
): TrafficDistribution | null {
  if (specValue === 'PreferClose' || specValue === 'PreferSameZone') return 'PreferSameZone';
  if (specValue === 'PreferSameNode') return 'PreferSameNode';
  const own = annotations[TRAFFIC_DISTRIBUTION_ANNOTATION];
  if (own !== undefined && own !== '') return distributionOf(own);
  return distributionOf(namespaceAnnotations?.[TRAFFIC_DISTRIBUTION_ANNOTATION]);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** `spec.selector` when it has labels: an empty or absent one selects nothing in Kubernetes. */
function selectorOf(s: Record<string, unknown>): Record<string, string> | null {
  const sel = s['selector'];
  if (typeof sel !== 'object' || sel === null) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length > 0 ? out : null;
}

function kubernetesService(
  p: PlatformResource,
  entries: readonly Resource[],
  namespaceAnnotations: Readonly<Record<string, string>> | undefined,
): MutableService | null {
  const spec = p.body['spec'];
  if (typeof spec !== 'object' || spec === null) return null;
  const s = spec as Record<string, unknown>;
  if (str(s['type']) === 'ExternalName') return null;
  const kubePorts: KubernetesPort[] = [];
  for (const raw of Array.isArray(s['ports']) ? (s['ports'] as unknown[]) : []) {
    if (typeof raw !== 'object' || raw === null) continue;
    const port = raw as Record<string, unknown>;
    if (typeof port['port'] !== 'number') continue;
    const name = str(port['name']) ?? '';
    const target = port['targetPort'];
    kubePorts.push({
      port: {
        name,
        number: port['port'],
        protocol:
          str(port['protocol'])?.toUpperCase() === 'UDP'
            ? 'TCP'
            : portProtocol(name, str(port['appProtocol'])),
        targetPort: typeof target === 'number' ? target : null,
      },
      targetName: typeof target === 'string' && target !== '' ? target : null,
    });
  }
  const clusterIp = str(s['clusterIP']);
  const selector = selectorOf(s);
  // Only a load-balanced Service (not headless) with a selector takes WorkloadEntries
  // (istio kube controller.go serviceInstancesFromWorkloadInstances: ClientSideLB only).
  const endpoints =
    selector === null || clusterIp === 'None'
      ? {}
      : withLabelLocalities(serviceWorkloadEntries(p.metadata.namespace, selector, kubePorts, entries));
  const distribution = trafficDistribution(
    str(s['trafficDistribution']),
    p.metadata.annotations,
    namespaceAnnotations,
  );
  return {
    ...(distribution === null ? {} : { trafficDistribution: distribution }),
    host: `${p.metadata.name}.${p.metadata.namespace}.svc.${DOMAIN_SUFFIX}`,
    namespace: p.metadata.namespace,
    source: 'Service',
    resource: { namespace: p.metadata.namespace, name: p.metadata.name },
    addresses: clusterIp !== undefined && clusterIp !== 'None' && clusterIp !== '' ? [clusterIp] : [],
    ports: kubePorts.map((k) => k.port),
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    endpoints,
    subjectAltNames: [],
  };
}

function exportToAnnotation(p: PlatformResource): readonly string[] | undefined {
  const a = p.metadata.annotations['networking.istio.io/exportTo'];
  return a === undefined ? undefined : a.split(',').map((x) => x.trim());
}

function serviceEntryServices(r: Resource, entries: readonly Resource[]): MutableService[] {
  const spec = r.spec as ServiceEntryIn;
  const ns = r.metadata.namespace;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name ?? '',
    number: p.number,
    protocol: seProtocol(p.protocol),
    targetPort: p.targetPort ?? null,
  }));
  const selected: WorkloadEntryIn[] = [];
  if (spec.workloadSelector !== undefined) {
    for (const we of entries) {
      const w = we.spec as WorkloadEntryIn;
      if (we.metadata.namespace === ns && labelsMatch(spec.workloadSelector.labels ?? {}, w.labels ?? {}))
        selected.push(w);
    }
  }
  const source: readonly WorkloadEntryIn[] =
    spec.workloadSelector !== undefined ? selected : (spec.endpoints ?? []);
  const resolution = (spec.resolution ?? 'NONE') as Service['resolution'];
  return spec.hosts.map((h) => {
    const hostName = resolveShortName(h, ns);
    const endpoints: Record<string, Endpoint[]> = {};
    for (const port of ports) {
      let list = source
        .map((e) => endpointFromEntry(e, port, null))
        .filter((e): e is Endpoint => e !== null)
        .map(withLabelLocality);
      // DNS resolution without endpoints resolves the host itself ([A-se]), only for an entry
      // without a workloadSelector (istio serviceentry/conversion.go convertServiceEntryToInstances).
      if (
        list.length === 0 &&
        source.length === 0 &&
        spec.workloadSelector === undefined &&
        (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') &&
        !hostName.startsWith('*')
      ) {
        list = [
          {
            address: hostName,
            port: port.targetPort ?? port.number,
            labels: {},
            serviceAccount: null,
            weight: 1,
            locality: null,
            network: null,
          },
        ];
      }
      endpoints[String(port.number)] = list;
    }
    return {
      ...(spec.workloadSelector === undefined ? {} : { selectsWorkloads: true }),
      host: hostName,
      namespace: ns,
      source: 'ServiceEntry' as const,
      resource: { namespace: ns, name: r.metadata.name },
      addresses: [...(spec.addresses ?? [])],
      ports,
      location: spec.location === 'MESH_INTERNAL' ? ('MESH_INTERNAL' as const) : ('MESH_EXTERNAL' as const),
      resolution,
      endpoints,
      subjectAltNames: spec.subjectAltNames ?? [],
    };
  });
}

function attachStatic(svc: MutableService, list: readonly StaticEndpoint[]): void {
  for (const e of list) {
    const matching = svc.ports.filter((p) => p.number === e.port || p.targetPort === e.port);
    const targets = svc.ports.length === 1 ? svc.ports : matching.length > 0 ? matching : svc.ports;
    for (const p of targets) {
      const key = String(p.number);
      (svc.endpoints[key] ??= []).push({
        address: e.address,
        port: e.port,
        labels: e.labels ?? {},
        serviceAccount: e.serviceAccount ?? null,
        weight: 1,
        locality: e.locality !== undefined && e.locality !== '' ? e.locality : localityLabel(e.labels ?? {}),
        network: null,
      });
    }
  }
}

function namespaceOfHost(hostName: string, fallback: string): string {
  const m = /^[^.]+\.([^.]+)\.svc\./.exec(hostName);
  return m?.[1] ?? fallback;
}

/**
 * The service registry as seen from `namespace`: Kubernetes Services (with the
 * WorkloadEntries their selector picks), ServiceEntries (with endpoints or
 * WorkloadEntries via `workloadSelector`) exported to that namespace, and
 * `options.endpoints`. A Service whose pods meshlet is not told of has the
 * selected WorkloadEntries as its only endpoints; one with none is reached by
 * DNS. When two registries define one host, the one in the caller's namespace
 * wins, else the first.
 */
export function buildRegistry(
  resources: readonly Resource[],
  platform: readonly PlatformResource[],
  endpoints: Readonly<Record<string, readonly StaticEndpoint[]>> | undefined,
  namespace: string,
): Map<string, Service> {
  const byHost = new Map<string, MutableService>();
  const add = (svc: MutableService): void => {
    const prev = byHost.get(svc.host);
    if (prev === undefined || (prev.namespace !== namespace && svc.namespace === namespace))
      byHost.set(svc.host, svc);
  };
  const entries = resources.filter((r) => r.kind === 'WorkloadEntry');
  const namespaces = new Map<string, Readonly<Record<string, string>>>();
  for (const p of platform)
    if (p.kind === 'Namespace') namespaces.set(p.metadata.name, p.metadata.annotations);
  for (const p of platform) {
    if (p.kind !== 'Service' || !isVisibleTo(exportToAnnotation(p), p.metadata.namespace, namespace))
      continue;
    const svc = kubernetesService(p, entries, namespaces.get(p.metadata.namespace));
    if (svc !== null) add(svc);
  }
  const ses = resources.filter((r) => r.kind === 'ServiceEntry').sort(compareByCreation);
  for (const se of ses) {
    const spec = se.spec as ServiceEntryIn;
    if (!isVisibleTo(spec.exportTo, se.metadata.namespace, namespace)) continue;
    for (const svc of serviceEntryServices(se, entries)) add(svc);
  }
  for (const [key, list] of Object.entries(endpoints ?? {})) {
    const hostName = resolveShortName(key, namespace);
    let svc = byHost.get(hostName);
    if (svc === undefined) {
      const ports = [...new Set(list.map((e) => e.port))].map((n): ServicePort => ({
        name: `http-${n}`,
        number: n,
        protocol: 'UNKNOWN',
        targetPort: null,
      }));
      svc = {
        host: hostName,
        namespace: namespaceOfHost(hostName, namespace),
        source: 'endpoints',
        resource: null,
        addresses: [],
        ports,
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        endpoints: {},
        subjectAltNames: [],
      };
      byHost.set(hostName, svc);
    }
    attachStatic(svc, list);
  }
  const aliases = externalNameAliases(platform, (p) =>
    isVisibleTo(exportToAnnotation(p), p.metadata.namespace, namespace),
  );
  for (const [concrete, list] of aliases) {
    const svc = byHost.get(concrete);
    if (svc !== undefined) svc.aliases = list;
  }
  return byHost;
}
