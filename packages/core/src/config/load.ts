import { authzProviderDiagnostics } from './authz-provider-diagnostics.js';
import { telemetryProviderDiagnostics } from './telemetry-providers.js';
import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { Diagnostic } from './diagnostic.js';
import { collectText, validatePending, type Collected } from './documents.js';
import type { MeshConfig } from './mesh-config.js';
import { resolveMeshConfig, type MeshConfigPatch } from './mesh-config-parse.js';
import type { Resource } from './resource.js';
import type { ConfigSnapshot } from './snapshot.js';
import { readSources, type SourceEntry } from './sources.js';

export interface LoadOptions {
  /** Namespace for documents without one (as `kubectl apply` without `-n`): `default`. */
  readonly defaultNamespace?: string;
  /** Mesh config given in code; it wins over a MeshConfig found in the files. */
  readonly meshConfig?: Partial<MeshConfig>;
  /** Base for relative paths. */
  readonly cwd?: string;
}

export interface TextSource {
  readonly text: string;
  /** Shown in diagnostics; null prints as `<inline>`. */
  readonly file?: string | null;
  /** Namespace of this text's documents that name none (`kubectl apply -n`); default the load's. */
  readonly namespace?: string;
}

function sameResource(a: Resource, b: Resource): boolean {
  return (
    a.kind === b.kind && a.metadata.namespace === b.metadata.namespace && a.metadata.name === b.metadata.name
  );
}

/** Validate what was collected and assemble the snapshot. Pure. */
function assemble(collected: Collected, files: readonly string[], options: LoadOptions): ConfigSnapshot {
  const patches: MeshConfigPatch[] = [...collected.meshPatches];
  if (options.meshConfig !== undefined) patches.push(options.meshConfig);
  const meshConfig = resolveMeshConfig(patches);
  const diagnostics: Diagnostic[] = [...collected.diagnostics];
  const resources: Resource[] = [];
  const invalid: Resource[] = [];
  for (const p of collected.pending) {
    const r = validatePending(p, meshConfig.rootNamespace, diagnostics);
    if (r === null) {
      invalid.push(
        Object.freeze({
          kind: p.def.kind,
          apiVersion: p.apiVersion,
          metadata: p.metadata,
          spec: p.spec,
          origin: p.origin,
        }),
      );
      continue;
    }
    const prev = resources.findIndex((x) => sameResource(x, r));
    if (prev >= 0) {
      const old = resources[prev] as Resource;
      const pos = r.origin.locate([]);
      diagnostics.push({
        code: DIAGNOSTIC_CODES.duplicate,
        level: 'Warning',
        file: r.origin.file,
        line: pos.line,
        column: pos.column,
        path: '',
        message: `${r.kind} ${r.metadata.namespace}/${r.metadata.name} is defined again (first at ${old.origin.file ?? '<inline>'}:${old.origin.line}); this later definition replaces it, as kubectl apply would`,
        resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
      });
      resources.splice(prev, 1);
    }
    resources.push(r);
  }
  resources.sort((a, b) => a.origin.index - b.origin.index);
  diagnostics.push(...telemetryProviderDiagnostics(resources, meshConfig));
  diagnostics.push(...authzProviderDiagnostics(resources, meshConfig, collected.platform));
  return Object.freeze({
    resources: Object.freeze(resources),
    invalid: Object.freeze(invalid),
    meshConfig,
    platform: Object.freeze([...collected.platform]),
    diagnostics: Object.freeze(diagnostics),
    files: Object.freeze([...files]),
  });
}

function emptyCollected(): Collected {
  return { pending: [], platform: [], meshPatches: [], diagnostics: [] };
}

/** Load already-read sources (files or strings). Synchronous and pure. */
export function loadEntries(
  entries: readonly (SourceEntry | (TextSource & { kind?: undefined }))[],
  options: LoadOptions = {},
): ConfigSnapshot {
  const collected = emptyCollected();
  const files: string[] = [];
  const ns = options.defaultNamespace ?? 'default';
  let index = 0;
  for (const e of entries) {
    if (e.kind === 'problem') {
      collected.diagnostics.push({
        code: DIAGNOSTIC_CODES.source,
        level: 'Error',
        file: e.file,
        line: null,
        column: null,
        path: '',
        message: e.message,
      });
      continue;
    }
    const file = e.kind === 'file' ? e.file : (e.file ?? null);
    if (file !== null) files.push(file);
    index = collectText(
      e.text,
      file,
      index,
      collected,
      (e.kind === undefined ? e.namespace : undefined) ?? ns,
    );
  }
  return assemble(collected, files, options);
}

/**
 * Load Istio configuration from files and directories (recursively: `.yaml`, `.yml`,
 * `.json`). Never throws for bad input: every problem is a diagnostic, and only
 * documents without errors become resources.
 */
export async function loadConfig(
  sources: string | readonly string[],
  options: LoadOptions = {},
): Promise<ConfigSnapshot> {
  const list = typeof sources === 'string' ? [sources] : sources;
  const entries = await readSources(list, options.cwd);
  return loadEntries(entries, options);
}

/** Load configuration given as YAML/JSON text (one or many documents). */
export function loadConfigText(
  text: string | readonly TextSource[],
  options: LoadOptions & { file?: string } = {},
): ConfigSnapshot {
  const sources: TextSource[] = typeof text === 'string' ? [{ text, file: options.file ?? null }] : [...text];
  return loadEntries(sources, options);
}
