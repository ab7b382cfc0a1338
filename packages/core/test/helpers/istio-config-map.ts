/**
 * The `istio` ConfigMap of `istio-system` carrying `meshYaml` as its `mesh` key, the
 * way a cluster holds its MeshConfig; ends with a document separator.
 */
export function istioConfigMap(meshYaml: string): string {
  const body = meshYaml
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
${body}
---
`;
}
