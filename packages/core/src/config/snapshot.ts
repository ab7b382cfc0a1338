import type { Diagnostic } from './diagnostic.js';
import type { MeshConfig } from './mesh-config.js';
import type { Resource } from './resource.js';

/**
 * What `loadConfig` returns: every valid resource (documents with errors are left
 * out), the effective mesh config, and every diagnostic found on the way.
 */
export interface ConfigSnapshot {
  readonly resources: readonly Resource[];
  readonly meshConfig: MeshConfig;
  readonly diagnostics: readonly Diagnostic[];
  /** The files read, in load order (for watch and for messages). */
  readonly files: readonly string[];
}
