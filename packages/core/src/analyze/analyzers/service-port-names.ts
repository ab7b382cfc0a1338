import type { PlatformResource } from '../../config/snapshot.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, num, obj, str } from '../read.js';

/** istio pkg/config/protocol `Parse` (case-insensitive); anything else is Unsupported. */
const PROTOCOLS = new Set([
  'tcp',
  'udp',
  'grpc',
  'grpc-web',
  'http',
  'http_proxy',
  'http2',
  'https',
  'tls',
  'mongo',
  'redis',
  'mysql',
]);

/** Ports istio never sniffs: SMTP, DNS, MySQL, MongoDB (pkg/config/kube/conversion.go). */
const WELL_KNOWN_PORTS = new Set([25, 53, 3306, 27017]);

const KUBERNETES_APP_PROTOCOLS = new Set(['kubernetes.io/h2c', 'kubernetes.io/ws', 'kubernetes.io/wss']);

/** Istio-managed gateway Services (label gateway.istio.io/managed), skipped by the analyzer. */
const MANAGED_GATEWAY = new Set([
  'istio.io-gateway-controller',
  'istio.io-mesh-controller',
  'istio.io-eastwest-controller',
]);

/**
 * Whether istio `kube.ConvertProtocol` finds a protocol for a Service port: UDP,
 * else `appProtocol` (when set) or the port name, by its `grpc-web` prefix or the
 * part before the first `-`; a well-known port defaults to TCP.
 */
function isSupported(port: number, name: string, protocol: string, appProtocol: string | undefined): boolean {
  if (protocol === 'UDP') return true;
  let n = appProtocol ?? name;
  if (appProtocol !== undefined && KUBERNETES_APP_PROTOCOLS.has(appProtocol)) return true;
  if (n.toLowerCase().startsWith('grpc-web')) return true;
  const dash = n.indexOf('-');
  if (dash >= 0) n = n.slice(0, dash);
  return PROTOCOLS.has(n.toLowerCase()) || WELL_KNOWN_PORTS.has(port);
}

/** Kubernetes `IntOrString.String()`; an absent targetPort (not defaulted in files) is 0. */
function targetPortString(value: unknown): string {
  return typeof value === 'string' ? value : String(num(value));
}

function check(p: PlatformResource): AnalysisMessage[] {
  // istio util.IsIstioControlPlane: an `istio` label or `release: istio`.
  if ('istio' in p.metadata.labels || p.metadata.labels['release'] === 'istio') return [];
  if (MANAGED_GATEWAY.has(p.metadata.labels['gateway.istio.io/managed'] ?? '')) return [];
  const spec = obj(p.body['spec']);
  const externalName = str(spec['type']) === 'ExternalName';
  const subject = { kind: p.kind, namespace: p.metadata.namespace, name: p.metadata.name, origin: p.origin };
  const out: AnalysisMessage[] = [];
  arr(spec['ports']).forEach((raw, i) => {
    const port = obj(raw);
    const name = str(port['name']);
    const number = num(port['port']);
    const appProtocol = typeof port['appProtocol'] === 'string' ? port['appProtocol'] : undefined;
    const supported = isSupported(number, name, str(port['protocol']), appProtocol);
    if (supported && !(name === 'tcp' && externalName)) return;
    // istio points at the port number; without one (a scalar) it has no line for it.
    const at = typeof port['port'] === 'number' ? ['spec', 'ports', i, 'port'] : undefined;
    out.push(
      externalName
        ? newMessage(MESSAGE_TYPES.ExternalNameServiceTypeInvalidPortName, subject, [], at)
        : newMessage(
            MESSAGE_TYPES.PortNameIsNotUnderNamingConvention,
            subject,
            [name, number, targetPortString(port['targetPort'])],
            at,
          ),
    );
  });
  return out;
}

/**
 * istio service.PortNameAnalyzer: IST0118 for a Service port whose name (or
 * appProtocol) names no protocol, so Istio sniffs it; IST0150 instead on an
 * ExternalName Service, where a `tcp` name is flagged too. Istio control-plane
 * and managed gateway Services are skipped (kube-system & co. are dropped for
 * every analyzer: see ignored-namespaces.ts).
 */
export function analyzeServicePortNames(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const p of ctx.snapshot.platform)
    if (p.kind === 'Service' && (p.apiVersion === 'v1' || p.apiVersion === '')) out.push(...check(p));
  return out;
}
