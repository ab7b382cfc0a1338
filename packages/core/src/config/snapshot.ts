import type { Diagnostic } from './diagnostic.js';
import type { MeshConfig } from './mesh-config.js';
import type { Origin, Resource, ResourceMetadata } from './resource.js';

/**
 * A Kubernetes document that is not an Istio kind (Service, Pod, Deployment,
 * Namespace, Secret, ...). meshlet does not apply it, but the analyzers and the
 * service registry read it (a `Service` in the files defines a mesh host).
 */
export interface PlatformResource {
  readonly kind: string;
  readonly apiVersion: string;
  readonly metadata: ResourceMetadata;
  /** The whole document as parsed (spec, data, ...). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly origin: Origin;
}

/**
 * What `loadConfig` returns: every valid resource (documents with errors are left
 * out), the effective mesh config, and every diagnostic found on the way.
 */
export interface ConfigSnapshot {
  readonly resources: readonly Resource[];
  readonly meshConfig: MeshConfig;
  /**
   * Istio documents rejected by validation, with their raw `spec`. Never applied;
   * kept so `meshlet analyze` can run Istio's analyzers over them as istioctl does.
   */
  readonly invalid: readonly Resource[];
  /** Non-Istio Kubernetes documents found beside the Istio ones. */
  readonly platform: readonly PlatformResource[];
  readonly diagnostics: readonly Diagnostic[];
  /** The files read, in load order (for watch and for messages). */
  readonly files: readonly string[];
}
