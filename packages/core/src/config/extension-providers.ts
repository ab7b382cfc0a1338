import type { ExtensionProvider, MeshConfig } from './mesh-config.js';

/**
 * The providers istiod's default MeshConfig defines, which a mesh config need not list
 * (istio pkg/config/mesh/mesh.go DefaultMeshConfig): `prometheus`, `stackdriver`, and
 * `envoy`, a file access log to /dev/stdout.
 */
const BUILTIN: readonly ExtensionProvider[] = Object.freeze([
  Object.freeze({ name: 'prometheus', type: 'prometheus', config: Object.freeze({}) }),
  Object.freeze({ name: 'stackdriver', type: 'stackdriver', config: Object.freeze({}) }),
  Object.freeze({
    name: 'envoy',
    type: 'envoyFileAccessLog',
    config: Object.freeze({ path: '/dev/stdout' }),
  }),
]);

/**
 * The extension provider a Telemetry resource or `defaultProviders` names: matched
 * case-insensitively, the mesh config's own first, then istiod's built-ins (istio
 * pilot/pkg/model/telemetry.go fetchProvider uses strings.EqualFold).
 */
export function findExtensionProvider(
  mesh: Pick<MeshConfig, 'extensionProviders'>,
  name: string,
): ExtensionProvider | null {
  const lower = name.toLowerCase();
  return (
    mesh.extensionProviders.find((p) => p.name.toLowerCase() === lower) ??
    BUILTIN.find((p) => p.name === lower) ??
    null
  );
}
