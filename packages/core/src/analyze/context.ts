import type { MeshConfig } from '../config/mesh-config.js';
import type { Resource } from '../config/resource.js';
import type { ConfigSnapshot, PlatformResource } from '../config/snapshot.js';
import type { Labels } from './labels.js';
import { arr, num, obj, str, strMap } from './read.js';

/** A Kubernetes Service as the analyzers see it (istio `corev1.ServiceSpec`). */
export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly annotations: Labels;
  readonly selector: Labels;
  readonly ports: readonly {
    readonly port: number;
    readonly name: string;
    readonly protocol: string;
    readonly targetPort: number;
  }[];
}

/** A pod: a `Pod` document, or the pod template of a workload (see `podsOf`). */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly nodeName: string;
  /** An `istio-proxy` container (or init container) with an image: istio util.hasIstioProxy. */
  readonly proxyContainer: boolean;
}

/** A Kubernetes Gateway API `Gateway` (gateway.networking.k8s.io), for VirtualService gateway refs. */
export interface KubernetesGatewayView {
  readonly namespace: string;
  readonly name: string;
  /** Listener hostnames; '' for a listener without one (matches every host). */
  readonly hostnames: readonly string[];
}

/** Everything the analyzers read, indexed once per run. */
export interface AnalysisContext {
  readonly snapshot: ConfigSnapshot;
  readonly meshConfig: MeshConfig;
  /** Istio resources by kind, in load order. */
  readonly byKind: (kind: string) => readonly Resource[];
  readonly services: readonly ServiceView[];
  readonly pods: readonly PodView[];
  readonly nodeLabels: ReadonlyMap<string, Labels>;
  /** `ns/name` of every Secret. */
  readonly secrets: ReadonlySet<string>;
  readonly namespaces: ReadonlySet<string>;
  readonly kubernetesGateways: readonly KubernetesGatewayView[];
}

/** Istio's system namespace and ingress Service name (meshConfig.ingressService default). */
export const ISTIO_NAMESPACE = 'istio-system';
const INGRESS_SERVICE = 'istio-ingressgateway';

/**
 * istioctl adds a dummy ingress gateway Pod and Service when analyzing files
 * (istio pkg/config/analysis/local/defaults.go, AddDefaultResources), so a Gateway
 * selecting `istio: ingressgateway` is not reported for having no workload.
 */
const DEFAULT_INGRESS_POD: PodView = Object.freeze({
  namespace: ISTIO_NAMESPACE,
  name: `${INGRESS_SERVICE}-dummypod`,
  labels: Object.freeze({ istio: 'ingressgateway' }),
  annotations: Object.freeze({}),
  nodeName: '',
  proxyContainer: false,
});

const DEFAULT_INGRESS_SERVICE: ServiceView = Object.freeze({
  namespace: ISTIO_NAMESPACE,
  name: INGRESS_SERVICE,
  annotations: Object.freeze({}),
  selector: Object.freeze({ istio: 'ingressgateway' }),
  ports: Object.freeze(
    [
      ['http2', 80],
      ['https', 443],
      ['tcp', 31400],
      ['tls', 15443],
    ].map(([name, port]) =>
      Object.freeze({ name: String(name), port: Number(port), protocol: 'TCP', targetPort: Number(port) }),
    ),
  ),
});

const WORKLOAD_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
]);

function isCore(p: PlatformResource, kind: string): boolean {
  return p.kind === kind && (p.apiVersion === 'v1' || p.apiVersion === '');
}

function toService(p: PlatformResource): ServiceView {
  const spec = obj(p.body['spec']);
  const ports = arr(spec['ports']).map((raw) => {
    const port = obj(raw);
    // Kubernetes defaults a missing protocol to TCP; a named targetPort cannot be resolved from files.
    return Object.freeze({
      port: num(port['port']),
      name: str(port['name']),
      protocol: str(port['protocol']) === '' ? 'TCP' : str(port['protocol']),
      targetPort: num(port['targetPort']),
    });
  });
  return Object.freeze({
    namespace: p.metadata.namespace,
    name: p.metadata.name,
    annotations: p.metadata.annotations,
    selector: strMap(spec['selector']),
    ports: Object.freeze(ports),
  });
}

function hasProxyContainer(podSpec: unknown): boolean {
  const spec = obj(podSpec);
  const containers = [...arr(spec['containers']), ...arr(spec['initContainers'])].map(obj);
  const proxy = containers.find((c) => str(c['name']) === 'istio-proxy');
  return proxy !== undefined && str(proxy['image']) !== '';
}

/**
 * The pods a set of files stands for. A `Pod` document is one pod. A workload
 * (Deployment, StatefulSet, ...) stands for the pods its template would create:
 * istioctl reads only `Pod` objects, which in a cluster exist because the workloads
 * do; files carry the workloads instead, so their templates play that part.
 */
function podsOf(p: PlatformResource): PodView[] {
  if (isCore(p, 'Pod')) {
    return [
      {
        namespace: p.metadata.namespace,
        name: p.metadata.name,
        labels: p.metadata.labels,
        annotations: p.metadata.annotations,
        nodeName: str(obj(p.body['spec'])['nodeName']),
        proxyContainer: hasProxyContainer(p.body['spec']),
      },
    ];
  }
  let template: unknown;
  if (WORKLOAD_KINDS.has(p.kind)) template = obj(p.body['spec'])['template'];
  else if (p.kind === 'CronJob') template = obj(obj(obj(p.body['spec'])['jobTemplate'])['spec'])['template'];
  else return [];
  const t = obj(template);
  return [
    {
      namespace: p.metadata.namespace,
      name: `${p.metadata.name}-template`,
      labels: strMap(obj(t['metadata'])['labels']),
      annotations: strMap(obj(t['metadata'])['annotations']),
      nodeName: str(obj(t['spec'])['nodeName']),
      proxyContainer: hasProxyContainer(t['spec']),
    },
  ];
}

function toKubernetesGateway(p: PlatformResource): KubernetesGatewayView {
  const listeners = arr(obj(p.body['spec'])['listeners']);
  return Object.freeze({
    namespace: p.metadata.namespace,
    name: p.metadata.name,
    hostnames: Object.freeze(listeners.map((l) => str(obj(l)['hostname']))),
  });
}

/** Index a snapshot for the analyzers. */
export function createContext(snapshot: ConfigSnapshot): AnalysisContext {
  const byKind = new Map<string, Resource[]>();
  // istioctl analyzes documents the webhook would reject too (it reports IST0106 and
  // still runs every analyzer), so the analyzers see the loader's invalid resources.
  const all = [...snapshot.resources, ...snapshot.invalid];
  for (const r of all) {
    const list = byKind.get(r.kind);
    if (list === undefined) byKind.set(r.kind, [r]);
    else list.push(r);
  }
  const services: ServiceView[] = [];
  const pods: PodView[] = [];
  const nodeLabels = new Map<string, Labels>();
  const secrets = new Set<string>();
  const namespaces = new Set<string>([ISTIO_NAMESPACE]);
  const kubernetesGateways: KubernetesGatewayView[] = [];
  for (const p of snapshot.platform) {
    if (isCore(p, 'Namespace')) namespaces.add(p.metadata.name);
    else if (p.kind !== 'Node') namespaces.add(p.metadata.namespace);
    if (isCore(p, 'Service')) services.push(toService(p));
    else if (isCore(p, 'Node')) nodeLabels.set(p.metadata.name, p.metadata.labels);
    else if (isCore(p, 'Secret')) secrets.add(`${p.metadata.namespace}/${p.metadata.name}`);
    else if (p.kind === 'Gateway' && p.apiVersion.startsWith('gateway.networking.k8s.io/'))
      kubernetesGateways.push(toKubernetesGateway(p));
    pods.push(...podsOf(p));
  }
  // A namespace in a cluster exists wherever something was applied to it.
  for (const r of all) namespaces.add(r.metadata.namespace);
  if (!services.some((s) => s.namespace === ISTIO_NAMESPACE && s.name === INGRESS_SERVICE))
    services.push(DEFAULT_INGRESS_SERVICE);
  pods.push(DEFAULT_INGRESS_POD);
  return Object.freeze({
    snapshot,
    meshConfig: snapshot.meshConfig,
    byKind: (kind: string) => byKind.get(kind) ?? [],
    services: Object.freeze(services),
    pods: Object.freeze(pods),
    nodeLabels,
    secrets,
    namespaces,
    kubernetesGateways: Object.freeze(kubernetesGateways),
  });
}
