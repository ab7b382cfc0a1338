import type { ConfigSnapshot } from '../config/snapshot.js';
import type { AnalysisMessage } from './message.js';

/** One `-S code=resource` entry; `resource` is a glob over `Kind ns/name` (or `Kind name.ns`). */
export interface Suppression {
  readonly code: string;
  readonly resource: string;
}

/** Istio's per-resource suppression annotation. */
export const SUPPRESS_ANNOTATION = 'galley.istio.io/analyze-suppress';

/** `*` matches any run of characters, everything else itself (istio uses ryanuber/go-glob). */
export function globMatches(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!value.startsWith(first)) return false;
  let at = first.length;
  for (const mid of parts.slice(1, -1)) {
    const i = value.indexOf(mid, at);
    if (i < 0) return false;
    at = i + mid.length;
  }
  return value.length - at >= last.length && value.endsWith(last);
}

function annotationOf(m: AnalysisMessage, snapshot: ConfigSnapshot): string | undefined {
  const r = m.resource;
  if (r === undefined) return undefined;
  const all = [...snapshot.resources, ...snapshot.platform];
  const found = all.find(
    (x) =>
      x.kind === r.kind &&
      (r.namespace === '' || x.metadata.namespace === r.namespace) &&
      x.metadata.name === r.name,
  );
  return found?.metadata.annotations[SUPPRESS_ANNOTATION];
}

/**
 * Whether a message is suppressed by its resource's annotation or by a `-S`
 * entry. istioctl's help documents `Kind name.ns` while it matches the glob
 * against `Kind ns/name`; both spellings are accepted here.
 */
export function isSuppressed(
  m: AnalysisMessage,
  snapshot: ConfigSnapshot,
  suppress: readonly Suppression[],
): boolean {
  const annotation = annotationOf(m, snapshot);
  if (annotation !== undefined && annotation !== '') {
    if (annotation.split(',').some((c) => c.trim() === '*' || c.trim() === m.code)) return true;
  }
  const r = m.resource;
  if (r === undefined) return false;
  // A cluster-scoped resource (namespace '') is `Kind name`, as istio's FriendlyName.
  const names =
    r.namespace === ''
      ? [`${r.kind} ${r.name}`]
      : [`${r.kind} ${r.namespace}/${r.name}`, `${r.kind} ${r.name}.${r.namespace}`];
  return suppress.some((s) => s.code === m.code && names.some((n) => globMatches(s.resource, n)));
}
