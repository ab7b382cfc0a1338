import type { PlatformResource } from '../../config/snapshot.js';
import { ANNOTATION_CHECKS } from '../annotation-values.js';
import { ISTIO_ANNOTATIONS } from '../annotation-table.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage, type Subject } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';

/** The kinds istio's K8sAnalyzer reads, by apiVersion (gvk.Namespace, Service, Pod, Deployment). */
const KINDS: Readonly<Record<string, string>> = {
  Namespace: 'v1',
  Service: 'v1',
  Pod: 'v1',
  Deployment: 'apps/v1',
};

/** Set by istiod, controllers or the injector, never by hand (istio maturity.AlwaysIgnoredAnnotations). */
const ALWAYS_IGNORED = new Set([
  'sidecar.istio.io/status',
  'gateway.istio.io/controller-version',
  'istio.io/rev',
]);

const SIDECAR_INJECT = 'sidecar.istio.io/inject';
const DEPRECATION_EXTRA: Readonly<Record<string, string>> = {
  [SIDECAR_INJECT]: ` in favor of the "${SIDECAR_INJECT}" label`,
};

/** istio annotations.istioAnnotation: `kubernetes.io/ingress.class`, or a prefix ending in istio.io. */
function isIstioAnnotation(name: string): boolean {
  if (name === 'kubernetes.io/ingress.class') return true;
  return (name.split('/')[0] ?? '').endsWith('istio.io');
}

function subjectOf(p: PlatformResource): Subject {
  // A Namespace is cluster-scoped: no namespace in its origin.
  const namespace = p.kind === 'Namespace' ? '' : p.metadata.namespace;
  return { kind: p.kind, namespace, name: p.metadata.name, origin: p.origin };
}

function check(p: PlatformResource): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const subject = subjectOf(p);
  for (const [name, value] of Object.entries(p.metadata.annotations)) {
    if (!isIstioAnnotation(name) || ALWAYS_IGNORED.has(name)) continue;
    const at = ['metadata', 'annotations', name];
    const def = ISTIO_ANNOTATIONS.get(name);
    if (def === undefined) {
      out.push(newMessage(MESSAGE_TYPES.UnknownAnnotation, subject, [name], at));
      continue;
    }
    // Both the deprecated annotation and its replacement label: the user knows (istio annotations.go).
    if (def.deprecated && !(name === SIDECAR_INJECT && SIDECAR_INJECT in p.metadata.labels))
      out.push(
        newMessage(MESSAGE_TYPES.DeprecatedAnnotation, subject, [name, DEPRECATION_EXTRA[name] ?? ''], at),
      );
    if (def.resources.includes('Any')) continue;
    if (!(def.resources as readonly string[]).includes(p.kind)) {
      out.push(newMessage(MESSAGE_TYPES.MisplacedAnnotation, subject, [name, def.resources.join(', ')], at));
      continue;
    }
    const problem = ANNOTATION_CHECKS.get(name)?.(value) ?? null;
    if (problem !== null) out.push(newMessage(MESSAGE_TYPES.InvalidAnnotation, subject, [name, problem], at));
  }
  return out;
}

/**
 * istio annotations.K8sAnalyzer: Istio annotations on Namespaces, Services, Pods
 * and Deployments that are unknown (IST0108), deprecated (IST0135), on a kind
 * they do not apply to (IST0107) or with a value the injector rejects (IST0125).
 * Like istio, it reads the resources' own metadata only: not a Deployment's pod
 * template, and not Istio resources (an AuthorizationPolicy's `istio.io/dry-run`).
 */
export function analyzeAnnotations(ctx: AnalysisContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const p of ctx.snapshot.platform) {
    if (KINDS[p.kind] === p.apiVersion) out.push(...check(p));
  }
  return out;
}
