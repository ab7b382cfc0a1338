import type { AnalysisContext, PodView } from './context.js';
import type { Labels } from './labels.js';

/** Labels of each `Namespace` document, by name. */
export function namespaceLabels(ctx: AnalysisContext): ReadonlyMap<string, Labels> {
  const out = new Map<string, Labels>();
  for (const p of ctx.snapshot.platform)
    if (p.kind === 'Namespace' && (p.apiVersion === 'v1' || p.apiVersion === ''))
      out.set(p.metadata.name, p.metadata.labels);
  return out;
}

function injectFlag(map: Labels): boolean | undefined {
  const v = map['sidecar.istio.io/inject'];
  return v === undefined ? undefined : v === 'true';
}

/**
 * istio util.PodInMesh: an istio-proxy container, else the pod's
 * `sidecar.istio.io/inject` label, else that annotation, else its Namespace
 * document's `istio-injection: enabled` (no Namespace document: not in the mesh).
 */
export function podInMesh(pod: PodView, namespaces: ReadonlyMap<string, Labels>): boolean {
  if (pod.proxyContainer) return true;
  const flag = injectFlag(pod.labels) ?? injectFlag(pod.annotations);
  if (flag !== undefined) return flag;
  return namespaces.get(pod.namespace)?.['istio-injection'] === 'enabled';
}

/**
 * Whether a pod may enforce an AuthorizationPolicy: in the mesh as Istio sees it (sidecar or
 * ambient), or a pod with no injection signal at all, which may run meshlet in-process
 * (Istio's analyzer would count it out). A pod kept out on purpose stays out: the
 * `sidecar.istio.io/inject: "false"` label or annotation, or its Namespace's
 * `istio-injection: disabled`.
 */
export function podMayEnforce(pod: PodView, namespaces: ReadonlyMap<string, Labels>): boolean {
  if (podInMesh(pod, namespaces) || podInAmbient(pod)) return true;
  const flag = injectFlag(pod.labels) ?? injectFlag(pod.annotations);
  return flag === undefined && namespaces.get(pod.namespace)?.['istio-injection'] !== 'disabled';
}

/** istio util.PodInAmbientMode. */
export function podInAmbient(pod: PodView): boolean {
  return pod.annotations['ambient.istio.io/redirection'] === 'enabled';
}
