import type { DiagnosticLevel, FieldPath, ResourceRef } from '../config/diagnostic.js';
import type { Origin } from '../config/resource.js';
import { goSprintf, type TemplateArg } from './go-format.js';
import type { MessageType } from './message-types.js';

/**
 * One analyzer finding, shaped like istioctl's `diag.Message`:
 * `origin` is `Kind ns/name` (istio Origin.FriendlyName), `reference` is `file:line`.
 */
export interface AnalysisMessage {
  readonly code: string;
  readonly level: DiagnosticLevel;
  /** `VirtualService default/reviews`; absent when the finding has no resource. */
  readonly origin?: string;
  /** `f.yaml:12`: the file and the line of the offending field (no line for .json, as istioctl). */
  readonly reference?: string;
  readonly file: string | null;
  readonly line: number | null;
  readonly resource?: ResourceRef;
  readonly message: string;
}

/** What an analyzer reports about: a resource with its identity and where it came from. */
export interface Subject {
  readonly kind: string;
  /** '' for a cluster-scoped resource (a Namespace). */
  readonly namespace: string;
  readonly name: string;
  readonly origin: Origin;
}

/** istio `Position.String()`: `file:line`, without the line for JSON files. */
export function reference(file: string | null, line: number | null): string | undefined {
  if (file === null || file === '') return undefined;
  if (line === null || line <= 0 || file.endsWith('.json')) return file;
  return `${file}:${line}`;
}

function lineOf(subject: Subject, path: FieldPath | undefined): number {
  if (path === undefined) return subject.origin.line;
  try {
    return subject.origin.locate(path).line;
  } catch {
    return subject.origin.line;
  }
}

/** istio `Origin.FriendlyName`: `Kind ns/name`, or `Kind name` for a cluster-scoped resource (namespace ''). */
export function friendlyName(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

/** Build a frozen message about `subject`; `path` points the reference at the offending field. */
export function newMessage(
  type: MessageType,
  subject: Subject,
  args: readonly TemplateArg[],
  path?: FieldPath,
): AnalysisMessage {
  const line = lineOf(subject, path);
  const file = subject.origin.file;
  const ref = reference(file, line);
  return Object.freeze({
    code: type.code,
    level: type.level,
    origin: friendlyName(subject.kind, subject.namespace, subject.name),
    ...(ref === undefined ? {} : { reference: ref }),
    file,
    line,
    resource: Object.freeze({ kind: subject.kind, namespace: subject.namespace, name: subject.name }),
    message: goSprintf(type.template, args),
  });
}

const LEVEL_ORDER: Readonly<Record<DiagnosticLevel, number>> = { Error: 0, Warning: 1, Info: 2 };

/** `[Level] (origin) message`, the string istioctl dedupes and finally orders by. */
function identity(m: AnalysisMessage): string {
  return `${m.level} [${m.code}] (${m.origin ?? ''} ${m.reference ?? ''}) ${m.message}`;
}

function comparator(m: AnalysisMessage): string {
  const r = m.resource;
  return r === undefined ? '' : `${r.kind}/${r.name}/${r.namespace}`;
}

function compare(a: AnalysisMessage, b: AnalysisMessage): number {
  if (a.level !== b.level) return LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level];
  if (a.code !== b.code) return a.code < b.code ? -1 : 1;
  if ((a.resource === undefined) !== (b.resource === undefined)) return a.resource === undefined ? -1 : 1;
  const ca = comparator(a);
  const cb = comparator(b);
  if (ca !== cb) return ca < cb ? -1 : 1;
  const ia = identity(a);
  const ib = identity(b);
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/** istio `Messages.SortedDedupedCopy`: level, code, Kind/name/namespace, then text; exact repeats dropped. */
export function sortAndDedupe(messages: readonly AnalysisMessage[]): AnalysisMessage[] {
  const sorted = [...messages].sort(compare);
  const out: AnalysisMessage[] = [];
  for (const m of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && identity(last) === identity(m)) continue;
    out.push(m);
  }
  return out;
}
