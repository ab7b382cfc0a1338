import { metadataAnnotationProblem } from './validate/metadata-annotations.js';
import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import { formatPath, type Diagnostic, type FieldPath, type ResourceRef } from './diagnostic.js';
import { findKind, isIstioGroup } from './kinds.js';
import type { MeshConfigPatch } from './mesh-config-parse.js';
import { parseMeshConfig } from './mesh-config-parse.js';
import { MESH_CONFIG_FIELDS } from './mesh-config-fields.js';
import { parseYaml, type ParsedDocument } from './parse.js';
import type { Origin, Resource, ResourceMetadata } from './resource.js';
import type { PlatformResource } from './snapshot.js';
import type { Finding } from './validate/context.js';
import { validateSpec } from './validate/run.js';
import type { KindDefinition } from './kind-definition.js';
import { isRecord } from './validate/is-record.js';

/** An Istio document whose kind is known, waiting for validation (needs the root namespace). */
export interface PendingResource {
  readonly def: KindDefinition;
  readonly apiVersion: string;
  readonly metadata: ResourceMetadata;
  readonly spec: unknown;
  readonly hasSpec: boolean;
  /** The document's `status`, kept unvalidated; undefined when it has none. */
  readonly status: unknown;
  readonly origin: Origin;
  /** Path of this document inside its YAML document (non-empty for List items). */
  readonly base: FieldPath;
}

/** Everything one pass over the sources found, before validation. */
export interface Collected {
  readonly pending: PendingResource[];
  readonly platform: PlatformResource[];
  readonly meshPatches: MeshConfigPatch[];
  readonly diagnostics: Diagnostic[];
}

const TOP_LEVEL_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * A Kubernetes Gateway API resource Istio acts on (pilot/pkg/config/kube/gateway: a Gateway is
 * deployed and configured, routes become the routes of what they attach to). A GatewayClass or a
 * ReferenceGrant changes no traffic by itself.
 */
function routesInIstio(group: string, kind: string): boolean {
  if (group !== 'gateway.networking.k8s.io' && group !== 'gateway.networking.x-k8s.io') return false;
  return kind !== 'GatewayClass' && kind !== 'ReferenceGrant';
}

function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return Object.freeze(out);
}

/** Build a diagnostic for a finding, locating it in its document. */
export function toDiagnostic(
  finding: Pick<Finding, 'level' | 'code' | 'message'> & { path: FieldPath },
  file: string | null,
  doc: Pick<ParsedDocument, 'locate'>,
  resource?: ResourceRef,
): Diagnostic {
  const pos = doc.locate(finding.path);
  return {
    code: finding.code,
    level: finding.level,
    file,
    line: pos.line,
    column: pos.column,
    path: formatPath(finding.path),
    message: finding.message,
    ...(resource === undefined ? {} : { resource }),
  };
}

/** Parse one source text and sort its documents into Istio resources, mesh config and platform kinds. */
export function collectText(
  text: string,
  file: string | null,
  indexStart: number,
  into: Collected,
  defaultNamespace: string,
): number {
  const parsed = parseYaml(text);
  for (const p of parsed.problems) {
    into.diagnostics.push({
      code: DIAGNOSTIC_CODES.syntax,
      level: 'Error',
      file,
      line: p.line,
      column: p.column,
      path: '',
      message: p.message,
    });
  }
  let index = indexStart;
  for (const doc of parsed.documents) {
    index = collectDocument(doc.value, [], doc, file, index, into, defaultNamespace);
  }
  return index;
}

function collectDocument(
  value: unknown,
  base: FieldPath,
  doc: ParsedDocument,
  file: string | null,
  index: number,
  into: Collected,
  defaultNamespace: string,
): number {
  const report = (
    level: Diagnostic['level'],
    code: string,
    path: FieldPath,
    message: string,
    resource?: ResourceRef,
  ) =>
    into.diagnostics.push(
      toDiagnostic({ level, code, path: [...base, ...path], message }, file, doc, resource),
    );

  if (value === null || value === undefined) return index; // empty document (`---` at the end)
  if (!isRecord(value)) {
    report(
      'Error',
      DIAGNOSTIC_CODES.schema,
      [],
      `a document must be an object with apiVersion and kind, got ${Array.isArray(value) ? 'a list' : typeof value}`,
    );
    return index;
  }
  const kind = value['kind'];
  const apiVersion = value['apiVersion'];

  // A standalone MeshConfig (as `istioctl --meshConfigFile` takes it): no apiVersion/kind.
  if (
    kind === undefined &&
    apiVersion === undefined &&
    !Object.keys(value).some((k) => MESH_CONFIG_FIELDS.includes(k))
  ) {
    report(
      'Error',
      DIAGNOSTIC_CODES.schema,
      [],
      `not a Kubernetes resource (no apiVersion or kind) and not a MeshConfig (no MeshConfig field among ${Object.keys(
        value,
      )
        .slice(0, 3)
        .map((k) => JSON.stringify(k))
        .join(', ')})`,
    );
    return index;
  }
  if ((kind === undefined && apiVersion === undefined) || kind === 'MeshConfig') {
    const { patch, findings } = parseMeshConfig(value, base);
    into.meshPatches.push(patch);
    for (const f of findings) into.diagnostics.push(toDiagnostic(f, file, doc));
    return index;
  }
  if (typeof kind !== 'string' || kind === '') {
    report('Error', DIAGNOSTIC_CODES.schema, ['kind'], 'Required value: every document needs a kind');
    return index;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    report(
      'Error',
      DIAGNOSTIC_CODES.schema,
      ['apiVersion'],
      `Required value: ${kind} needs an apiVersion (e.g. networking.istio.io/v1)`,
    );
    return index;
  }

  if (kind === 'List' || kind.endsWith('List')) {
    const items = value['items'];
    if (!Array.isArray(items)) {
      report('Error', DIAGNOSTIC_CODES.schema, ['items'], `${kind} needs an items list`);
      return index;
    }
    items.forEach((item, i) => {
      index = collectDocument(item, [...base, 'items', i], doc, file, index, into, defaultNamespace);
    });
    return index;
  }

  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const meta = readMetadata(value['metadata'], defaultNamespace);
  const ref: ResourceRef = { kind, namespace: meta.metadata.namespace, name: meta.metadata.name };
  const pos = doc.locate(base);
  const origin: Origin = {
    file,
    line: pos.line,
    column: pos.column,
    index,
    locate: (p) => doc.locate([...base, ...p]),
  };

  // The `istio` ConfigMap carries mesh config as YAML text under `mesh`.
  if (kind === 'ConfigMap' && group === '' && meta.metadata.name === 'istio') {
    const data = value['data'];
    const mesh = isRecord(data) ? data['mesh'] : undefined;
    if (typeof mesh === 'string') {
      const meshLine = doc.locate([...base, 'data', 'mesh']).line;
      const inner = parseYaml(mesh, meshLine);
      for (const p of inner.problems) {
        report(
          'Error',
          DIAGNOSTIC_CODES.syntax,
          ['data', 'mesh'],
          `mesh config (line ${p.line}): ${p.message}`,
          ref,
        );
      }
      for (const d of inner.documents) {
        const { patch, findings } = parseMeshConfig(d.value);
        into.meshPatches.push(patch);
        for (const f of findings) {
          into.diagnostics.push(toDiagnostic(f, file, d, ref));
        }
      }
      return index + 1;
    }
  }

  if (!isIstioGroup(group)) {
    into.platform.push(Object.freeze({ kind, apiVersion, metadata: meta.metadata, body: value, origin }));
    // A core Service is applied: it is the service registry (compile/registry.ts).
    if (kind === 'Service' && apiVersion === 'v1') return index + 1;
    if (routesInIstio(group, kind)) {
      report(
        'Warning',
        DIAGNOSTIC_CODES.unsupported,
        [],
        `${kind} ${ref.namespace}/${ref.name} (${apiVersion}) is a Kubernetes Gateway API resource: ` +
          'Istio turns it into routes for the Service or Gateway it attaches to, meshlet does not, so it is ' +
          'not applied (kept only for analysis). Write the same routing as a VirtualService (and a Gateway) ' +
          'for meshlet to apply it',
        ref,
      );
      return index + 1;
    }
    report(
      'Info',
      DIAGNOSTIC_CODES.skippedKind,
      [],
      `${kind} ${ref.namespace}/${ref.name} (${apiVersion}) is not an Istio kind: skipped (used only for analysis)`,
      ref,
    );
    return index + 1;
  }

  const def = findKind(group, kind);
  if (def === undefined) {
    report(
      'Warning',
      DIAGNOSTIC_CODES.unsupported,
      ['kind'],
      `${kind} (${apiVersion}) is not a kind meshlet understands: skipped`,
      ref,
    );
    return index + 1;
  }
  if (!def.versions.includes(version)) {
    report(
      'Error',
      DIAGNOSTIC_CODES.schema,
      ['apiVersion'],
      `${kind} is not served at ${apiVersion}; use one of ${def.versions.map((v) => `${group}/${v}`).join(', ')}`,
      ref,
    );
    return index + 1;
  }

  let ok = true;
  for (const p of meta.problems) {
    report('Error', DIAGNOSTIC_CODES.schema, ['metadata', ...p.path], p.message, ref);
    ok = false;
  }
  for (const key of Object.keys(value)) {
    if (!TOP_LEVEL_FIELDS.has(key)) {
      report(
        'Error',
        DIAGNOSTIC_CODES.schema,
        [key],
        `unknown field ${JSON.stringify(key)} (a resource has apiVersion, kind, metadata, spec)`,
        ref,
      );
      ok = false;
    }
  }
  if (!ok) return index + 1;
  into.pending.push({
    def,
    apiVersion,
    metadata: meta.metadata,
    spec: value['spec'],
    hasSpec: 'spec' in value,
    status: value['status'],
    origin,
    base,
  });
  return index + 1;
}

function readMetadata(
  raw: unknown,
  defaultNamespace: string,
): { metadata: ResourceMetadata; problems: { path: FieldPath; message: string }[] } {
  const problems: { path: FieldPath; message: string }[] = [];
  const m = isRecord(raw) ? raw : {};
  if (raw !== undefined && !isRecord(raw)) problems.push({ path: [], message: 'metadata must be an object' });
  const name = typeof m['name'] === 'string' ? m['name'] : '';
  if (name === '')
    problems.push({ path: ['name'], message: 'Required value: name or generateName is required' });
  else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    problems.push({
      path: ['name'],
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
    });
  }
  const namespace =
    typeof m['namespace'] === 'string' && m['namespace'] !== '' ? m['namespace'] : defaultNamespace;
  let creationTimestamp: number | null = null;
  const ts = m['creationTimestamp'];
  if (typeof ts === 'string') {
    const ms = Date.parse(ts);
    if (Number.isNaN(ms))
      problems.push({
        path: ['creationTimestamp'],
        message: `Invalid value: ${JSON.stringify(ts)}: not an RFC 3339 time`,
      });
    else creationTimestamp = ms;
  } else if (ts instanceof Date) creationTimestamp = ts.getTime();
  return {
    metadata: Object.freeze({
      name,
      namespace,
      labels: stringMap(m['labels']),
      annotations: stringMap(m['annotations']),
      creationTimestamp,
    }),
    problems,
  };
}

/** Validate a pending resource; returns the resource or null, and pushes its diagnostics. */
export function validatePending(
  p: PendingResource,
  rootNamespace: string,
  diagnostics: Diagnostic[],
): Resource | null {
  const ref: ResourceRef = { kind: p.def.kind, namespace: p.metadata.namespace, name: p.metadata.name };
  const doc = { locate: (path: FieldPath) => p.origin.locate(path) };
  const push = (f: Finding) => diagnostics.push(toDiagnostic(f, p.origin.file, doc, ref));
  if (!p.hasSpec || p.spec === null) {
    if (p.def.specRequired) {
      push({
        level: 'Error',
        code: DIAGNOSTIC_CODES.schema,
        path: ['spec'],
        message: p.hasSpec ? 'spec in body must be of type object: "null"' : 'spec: Required value',
      });
      return null;
    }
  }
  // istiod's webhook checks the metadata first, and refuses the resource on a problem there.
  const metaProblem = metadataAnnotationProblem(p.def.kind, p.metadata, p.spec);
  if (metaProblem !== null) {
    push(metaProblem);
    return null;
  }
  const { findings, value } = validateSpec(p.def, p.spec ?? {}, p.metadata.namespace, rootNamespace);
  for (const f of findings) push(f);
  if (value === undefined || findings.some((f) => f.level === 'Error')) return null;
  if (p.def.support === 'unsupported') {
    push({
      level: 'Warning',
      code: DIAGNOSTIC_CODES.unsupported,
      path: [],
      message: `${p.def.kind} is validated but not applied by meshlet: ${p.metadata.namespace}/${p.metadata.name} has no effect`,
    });
  }
  return Object.freeze({
    kind: p.def.kind,
    apiVersion: p.apiVersion,
    metadata: p.metadata,
    spec: deepFreeze(value),
    ...(p.status === undefined ? {} : { status: deepFreeze(p.status) }),
    origin: p.origin,
  });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as object)) deepFreeze(child);
  }
  return v;
}
