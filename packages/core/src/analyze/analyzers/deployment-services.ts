import type { PlatformResource } from '../../config/snapshot.js';
import type { AnalysisContext } from '../context.js';
import { selectorMatches, type Labels } from '../labels.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, num, obj, str, strMap } from '../read.js';

interface ServicePorts {
  /** `ns/name`. */
  readonly name: string;
  readonly ports: readonly { port: number; protocol: string; targetPort: string }[];
}

const isCore = (p: PlatformResource, kind: string) =>
  p.kind === kind && (p.apiVersion === 'v1' || p.apiVersion === '');

/** `sidecar.istio.io/inject` as istio util.getPodSidecarInjectionStatus reads it: present, and "true" or not. */
function injectFlag(map: Labels): boolean | undefined {
  const v = map['sidecar.istio.io/inject'];
  return v === undefined ? undefined : v === 'true';
}

/**
 * istio util.DeploymentInMesh: an `istio-proxy` container with an image, else the
 * template's inject label, else its inject annotation, else the Namespace
 * document's `istio-injection: enabled` (no Namespace document: not in the mesh).
 */
function inMesh(d: PlatformResource, namespaces: ReadonlyMap<string, Labels>): boolean {
  const template = obj(obj(d.body['spec'])['template']);
  const containers = arr(obj(template['spec'])['containers']).map(obj);
  const proxy = containers.find((c) => str(c['name']) === 'istio-proxy');
  if (proxy !== undefined && str(proxy['image']) !== '') return true;
  const meta = obj(template['metadata']);
  const flag = injectFlag(strMap(meta['labels'])) ?? injectFlag(strMap(meta['annotations']));
  if (flag !== undefined) return flag;
  return namespaces.get(d.metadata.namespace)?.['istio-injection'] === 'enabled';
}

function servicePorts(p: PlatformResource): ServicePorts {
  return {
    name: `${p.metadata.namespace}/${p.metadata.name}`,
    ports: arr(obj(p.body['spec'])['ports']).map((raw) => {
      const port = obj(raw);
      const t = port['targetPort'];
      const target = typeof t === 'string' ? t : String(num(t));
      const number = num(port['port']);
      return {
        port: number,
        protocol: str(port['protocol']) === '' ? 'TCP' : str(port['protocol']),
        // istio serviceTargetPortsMap: an unset targetPort is the port.
        targetPort: target === '0' || target === '' ? String(number) : target,
      };
    }),
  };
}

function check(d: PlatformResource, services: readonly ServicePorts[]): AnalysisMessage[] {
  const subject = { kind: d.kind, namespace: d.metadata.namespace, name: d.metadata.name, origin: d.origin };
  const at = ['metadata', 'name'];
  const out: AnalysisMessage[] = [];
  // port -> protocol -> services
  const byPort = new Map<number, Map<string, string[]>>();
  // targetPort -> port -> service (the last one wins, as istio's map assignment)
  const byTarget = new Map<string, Map<number, string>>();
  for (const s of services) {
    for (const p of s.ports) {
      const protocols = byPort.get(p.port) ?? new Map<string, string[]>();
      protocols.set(p.protocol, [...(protocols.get(p.protocol) ?? []), s.name]);
      byPort.set(p.port, protocols);
      const ports = byTarget.get(p.targetPort) ?? new Map<number, string>();
      ports.set(p.port, s.name);
      byTarget.set(p.targetPort, ports);
    }
  }
  for (const [port, protocols] of byPort) {
    if (protocols.size < 2) continue;
    const names = [...protocols.values()].flat().sort();
    out.push(
      newMessage(
        MESSAGE_TYPES.DeploymentAssociatedToMultipleServices,
        subject,
        [d.metadata.name, port, names],
        at,
      ),
    );
  }
  for (const [target, ports] of byTarget) {
    if (ports.size < 2) continue;
    const names = [...ports.values()].sort();
    const numbers = [...ports.keys()].sort((a, b) => a - b);
    out.push(
      newMessage(
        MESSAGE_TYPES.DeploymentConflictingPorts,
        subject,
        [d.metadata.name, names, target, numbers],
        at,
      ),
    );
  }
  return out;
}

/**
 * istio deployment.ServiceAssociationAnalyzer (registered as
 * `deployment.MultiServiceAnalyzer`): for each in-mesh Deployment (not a
 * waypoint), the Services in its namespace whose selector matches its pod
 * template. IST0116 when they expose one port with different protocols;
 * IST0137 when they send one targetPort from different ports.
 */
export function analyzeDeploymentServices(ctx: AnalysisContext): AnalysisMessage[] {
  const platform = ctx.snapshot.platform;
  const namespaces = new Map<string, Labels>();
  for (const p of platform) if (isCore(p, 'Namespace')) namespaces.set(p.metadata.name, p.metadata.labels);
  const services = platform
    .filter((p) => isCore(p, 'Service'))
    .map((p) => ({ p, selector: strMap(obj(p.body['spec'])['selector']), ports: servicePorts(p) }));
  const out: AnalysisMessage[] = [];
  for (const d of platform) {
    if (d.kind !== 'Deployment' || d.apiVersion !== 'apps/v1') continue;
    if (d.metadata.labels['gateway.istio.io/managed'] === 'istio.io-mesh-controller') continue;
    if (!inMesh(d, namespaces)) continue;
    const podLabels = strMap(obj(obj(obj(d.body['spec'])['template'])['metadata'])['labels']);
    const matching = services.filter(
      (s) =>
        Object.keys(s.selector).length > 0 &&
        s.p.metadata.namespace === d.metadata.namespace &&
        selectorMatches(s.selector, podLabels),
    );
    out.push(
      ...check(
        d,
        matching.map((s) => s.ports),
      ),
    );
  }
  return out;
}
