import type { PlatformResource } from '../../config/snapshot.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str } from '../read.js';

/** The sidecar's UID: iptables lets its traffic bypass the proxy (istio deployment/pod.go UserID). */
const PROXY_UID = 1337;

const runsAsProxy = (securityContext: unknown) => obj(securityContext)['runAsUser'] === PROXY_UID;

/** A pod spec running the application (not istio-proxy or istio-operator) as UID 1337. */
function usesProxyUid(podSpec: unknown): boolean {
  const spec = obj(podSpec);
  if (runsAsProxy(spec['securityContext'])) return true;
  return arr(spec['containers'])
    .map(obj)
    .some((c) => {
      const name = str(c['name']);
      return name !== 'istio-proxy' && name !== 'istio-operator' && runsAsProxy(c['securityContext']);
    });
}

/**
 * istio deployment.ApplicationUIDAnalyzer (registered as `applicationUID.Analyzer`):
 * IST0144 on a Pod or Deployment (not Istio's control plane) whose pod or
 * application container runs as UID 1337, the proxy's: its traffic would skip
 * the sidecar. Istio's message has no line, so one per resource remains.
 */
export function analyzeApplicationUid(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const check = (p: PlatformResource, podSpec: unknown) => {
    // istio util.IsIstioControlPlane: an `istio` label or `release: istio`.
    if ('istio' in p.metadata.labels || p.metadata.labels['release'] === 'istio') return;
    if (!usesProxyUid(podSpec)) return;
    const subject = {
      kind: p.kind,
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      origin: p.origin,
    };
    out.push(newMessage(MESSAGE_TYPES.InvalidApplicationUID, subject, []));
  };
  for (const p of ctx.snapshot.platform) {
    if (p.kind === 'Pod' && (p.apiVersion === 'v1' || p.apiVersion === '')) check(p, p.body['spec']);
    else if (p.kind === 'Deployment' && p.apiVersion === 'apps/v1')
      check(p, obj(obj(p.body['spec'])['template'])['spec']);
  }
  return out;
}
