import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectText, type Collected } from '../../../src/config/documents.js';
import { DEFAULT_MESH_CONFIG } from '../../../src/config/mesh-config.js';
import type { Resource } from '../../../src/config/resource.js';
import type { ConfigSnapshot } from '../../../src/config/snapshot.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (/work/main); the Istio samples sit beside it in ../shared. */
export const REPO_ROOT = path.resolve(here, '../../../../..');
export const SAMPLES = path.resolve(REPO_ROOT, '../shared/istio-samples');

/**
 * A snapshot of every document in `files`, Istio resources kept whether or not
 * they pass validation. Istio's analyzer tests (analyzers_test.go) feed each
 * analyzer all resources of a file, invalid ones included; this does the same,
 * so the table below tests the analyzers, not the validator.
 */
export function rawSnapshot(files: readonly string[]): ConfigSnapshot {
  const collected: Collected = { pending: [], platform: [], meshPatches: [], diagnostics: [] };
  let index = 0;
  for (const f of files) index = collectText(readFileSync(f, 'utf8'), f, index, collected, 'default');
  const resources: Resource[] = collected.pending.map((p) => ({
    kind: p.def.kind,
    apiVersion: p.apiVersion,
    metadata: p.metadata,
    spec: p.spec,
    ...(p.status === undefined ? {} : { status: p.status }),
    origin: p.origin,
  }));
  return {
    resources,
    invalid: [],
    platform: collected.platform,
    meshConfig: DEFAULT_MESH_CONFIG,
    diagnostics: collected.diagnostics,
    files,
  };
}
